#!/usr/bin/env bash
# Starts the built app on a fresh throwaway database, runs the Playwright
# suite against it in Debian's Chromium, and stops the app (by its pid).
#   scripts/e2e.sh [path/to/semrec [playwright test args...]]
# e.g. the documentation screenshots alone, on a database with nothing but the demo catalog:
#   SCREENSHOTS=1 scripts/e2e.sh "$CARGO_TARGET_DIR/debug/semrec" tests/screenshots.spec.ts
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin="${1:-$CARGO_TARGET_DIR/release/semrec}"
[ -x "$bin" ] || die "$bin not built: run scripts/build.sh"
cd "$ROOT"

work="$(mktemp -d /tmp/semrec-e2e.XXXXXX)"
chmod 755 "$work"
# A free port unless one is given: two runs at once must not test each other's server.
port="${E2E_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export SEMREC_ADMIN_PASSWORD="e2e-$(date +%s)-$RANDOM"
export E2E_ADMIN_PASSWORD="$SEMREC_ADMIN_PASSWORD" E2E_BASE_URL="http://127.0.0.1:$port"
# The text-rich demo subset keeps the first-start import short.
catalog="${E2E_CATALOG:-$ROOT/data/movielens/plots/items.jsonl}"

env -u DATABASE_URL SEMREC_DATA_DIR="$work/pg" SEMREC_PG_PORT=0 SEMREC_ADDR="127.0.0.1:$port" \
  SEMREC_METRICS_ADDR=127.0.0.1:0 SEMREC_DEMO_CATALOG="$catalog" LEPTOS_SITE_ROOT="$SITE_ROOT" \
  "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The first start embeds the catalog: minutes on a busy 2-core machine.
ready_secs="${E2E_READY_SECS:-900}"
for i in $(seq 1 $((ready_secs * 2))); do
  # Alive first: a server that failed to start must not pass for another one on the port.
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; die "the server exited during start-up"; }
  if curl -fsS "$E2E_BASE_URL/api/v1/health/ready" >/dev/null 2>&1; then break; fi
  [ "$i" -eq $((ready_secs * 2)) ] && { tail -50 "$work/server.log" >&2; die "the server did not become ready in $ready_secs s"; }
  sleep 0.5
done
log "server ready at $E2E_BASE_URL"

cd "$ROOT/end2end"
status=0
npx playwright test "${@:2}" || status=$?
if [ "$status" -ne 0 ]; then
  log "server log (last 80 lines):"; tail -80 "$work/server.log" >&2
fi
exit "$status"
