#!/usr/bin/env bash
# semrec behind deploy/nginx/semrec.conf with TLS, on loopback: Debian's nginx
# (scripts/fetch-nginx.sh), a self-signed certificate made here, its own semrec
# (embedded PostgreSQL in a temporary folder, empty catalogue). Checks Secure
# cookies, trusted-proxy handling of X-Forwarded-For and the Host allow-list
# (deploy/nginx/check_proxy.py); one PASS/FAIL line each. Bounded: at most 3 min;
# ends only the processes it started, by pid.
#   deploy/check-nginx.sh [path/to/semrec]
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
bin="${1:-$CARGO_TARGET_DIR/debug/semrec}"
[ -x "$bin" ] || die "$bin not built: run cargo build -p server"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
nginx="$("$ROOT/scripts/fetch-nginx.sh")"

work="$(mktemp -d /tmp/semrec-nginx.XXXXXX)"
# The embedded PostgreSQL runs as another user when this runs as root.
chmod 755 "$work"
runner=""
cleanup() {
  local status=$?
  # The driver ends its own processes; if it was itself stopped, end it (by pid)
  # and give it the chance to.
  [ -n "$runner" ] && kill -TERM "$runner" 2>/dev/null && sleep 5
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    log "semrec log (last 30 lines):"; tail -30 "$work/server.log" >&2
    [ -f "$work/nginx-error.log" ] && { log "nginx error log:"; tail -20 "$work/nginx-error.log" >&2; }
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=semrec.test" \
  -addext "subjectAltName=DNS:semrec.test" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
started=$(date +%s)
timeout --signal=TERM --kill-after=10 170 python3 "$ROOT/deploy/nginx/check_proxy.py" "$bin" "$nginx" "$work" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
[ "$status" -eq 124 ] && echo "FAIL the run: stopped after 170 s"
log "check-nginx.sh took $(( $(date +%s) - started )) s"
exit "$status"
