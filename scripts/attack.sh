#!/usr/bin/env bash
# The attack and fault matrix of issue #14 against a semrec instance of its own:
# its own embedded PostgreSQL in a temporary folder, its own ports on 127.0.0.1,
# the 451-film catalogue (data/movielens/plots, fetched by scripts/setup.sh).
# Prints one PASS/FAIL line per case with what it measured, then
# "N passed, N failed"; exits 1 when anything failed. Bounded: at most 5 min.
#   scripts/attack.sh [path/to/semrec]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin="${1:-$CARGO_TARGET_DIR/debug/semrec}"
[ -x "$bin" ] || die "$bin not built: run cargo build -p server"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -f "$ROOT/data/movielens/plots/items.jsonl" ] || die "the 451-film catalogue is missing: run scripts/setup.sh"
cd "$ROOT"

work="$(mktemp -d /tmp/semrec-attack.XXXXXX)"
# The embedded PostgreSQL runs as another user when this runs as root.
chmod 755 "$work"
: >"$work/pids"
runner=""
cleanup() {
  local status=$?
  # Only what this run started, by pid: the runner, then every process it recorded.
  [ -n "$runner" ] && kill -TERM "$runner" 2>/dev/null || true
  # A recorded pid counts only while it is still our binary (pids are reused).
  ours() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$bin" ]; }
  while read -r pid; do ours "$pid" && kill -TERM "$pid" 2>/dev/null || true; done <"$work/pids"
  for _ in $(seq 1 40); do
    local left=0
    while read -r pid; do ours "$pid" && left=1; done <"$work/pids"
    [ "$left" -eq 0 ] && break
    sleep 0.5
  done
  while read -r pid; do ours "$pid" && kill -KILL "$pid" 2>/dev/null || true; done <"$work/pids"
  # A postmaster left by a killed server (its pid is in the data directory).
  if [ -f "$work/pg/postmaster.pid" ]; then
    pm="$(head -1 "$work/pg/postmaster.pid")"
    [ -n "$pm" ] && [ "$(readlink "/proc/$pm/cwd" 2>/dev/null)" = "$work/pg" ] && kill -QUIT "$pm" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    log "server log (last 40 lines):"; tail -40 "$work/server.log" >&2
  fi
  # ATTACK_LOG=FILE keeps the server's log (and the cases' tracebacks) for a look later.
  [ -n "${ATTACK_LOG:-}" ] && cat "$work/server.log" "$work/attack.log" >"$ATTACK_LOG" 2>/dev/null
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
# 290 s for the cases, 10 more to end them: the whole run stays within 5 minutes.
timeout --signal=TERM --kill-after=10 290 python3 "$ROOT/scripts/attack.py" "$bin" "$work" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
[ "$status" -eq 124 ] && echo "FAIL the run: stopped after 290 s" && echo "0 passed, 1 failed"
log "attack.sh took $(( $(date +%s) - started )) s"
exit "$status"
