#!/usr/bin/env bash
# semrec against the seed's own stack (the peer: FastAPI + uvicorn +
# sentence-transformers + psycopg 3 + pgvector, bench/peer/app.py), side by side
# under one load generator (wrk, bench/peer/profiles.lua), on one database: the
# peer queries the `items` table of the PostgreSQL that semrec runs.
#   scripts/bench-peer.sh [path/to/semrec]     # default: the release build (built if missing)
# Knobs (environment):
#   BENCH_PEER_SECS=10          seconds per point
#   BENCH_PEER_CLIENTS="1 8 32" concurrent connections per point
#   BENCH_PEER_ROUNDS=2         alternated rounds (semrec, peer, semrec, peer)
#   BENCH_PEER_ROWS="distinct repeated"
#   BENCH_PEER_WORKERS="1 2"    uvicorn worker counts tried; the better one is reported
#   BENCH_PEER_DATA_DIR         semrec's data directory (default: <cache>/bench-peer/pg, kept
#                               across runs so the demo catalogue is embedded only once)
#   BENCH_PEER_CATALOG          catalogue semrec imports on its first start (default data/demo/catalog.jsonl)
#   BENCH_OUT                   where the report goes (default target/bench/peer.md)
# Only 2xx responses count toward req/s; 429s and other non-2xx are counted apart.
# Latency percentiles are wrk's, over every response (a 429 is fast: a cell with
# 429s has its count next to it). Takes about 15 min on 2 cores (the first run
# longer: semrec embeds the 9k-item demo catalogue on its first start).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

secs="${BENCH_PEER_SECS:-10}"
clients="${BENCH_PEER_CLIENTS:-1 8 32}"
rounds="${BENCH_PEER_ROUNDS:-2}"
rows="${BENCH_PEER_ROWS:-distinct repeated}"
workers="${BENCH_PEER_WORKERS:-1 2}"
out="${BENCH_OUT:-$ROOT/target/bench}"
data="${BENCH_PEER_DATA_DIR:-$(cache_dir)/bench-peer/pg}"
model="$ROOT/models/all-MiniLM-L6-v2"
catalog="${BENCH_PEER_CATALOG:-$ROOT/data/demo/catalog.jsonl}"
mkdir -p "$out" "$(dirname "$data")"

# --- what both sides need -------------------------------------------------------
[ -f "$model/model.safetensors" ] || "$ROOT/scripts/fetch-model.sh"
# sentence-transformers reads these beside the weights; without them it would
# build a different (mean-pooled, unnormalised) model or go to the hub.
for f in modules.json config_sentence_transformers.json sentence_bert_config.json \
  1_Pooling/config.json config.json tokenizer.json tokenizer_config.json vocab.txt; do
  [ -f "$model/$f" ] || die "$model/$f missing: run scripts/fetch-model.sh"
done
[ -f "$catalog" ] || [ -n "${BENCH_PEER_CATALOG:-}" ] || "$ROOT/scripts/fetch-demo-data.sh"
[ -f "$catalog" ] || die "$catalog missing"

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  as_root apt-get install -y wrk || { as_root apt-get update && as_root apt-get install -y wrk; } \
    || die "could not install wrk"
fi

venv="$("$ROOT/scripts/bench-venv.sh")"
if ! "$venv/bin/python" -c "import fastapi, uvicorn, psycopg, psycopg_pool, pgvector" 2>/dev/null; then
  log "installing the peer's stack into $venv"
  "$venv/bin/pip" install -q fastapi uvicorn 'psycopg[binary,pool]' pgvector \
    || die "pip could not install the peer's stack into $venv"
fi

bin="${1:-$CARGO_TARGET_DIR/release/semrec}"
if [ -z "${1:-}" ] && [ ! -x "$bin" ]; then
  log "building the release server"
  cargo build --release -p server --bin semrec
fi
[ -x "$bin" ] || die "$bin is not an executable"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work="$(mktemp -d /tmp/semrec-bench-peer.XXXXXX)"
semrec_pid="" peer_pid=""
stop() { # pid: TERM, wait up to 30 s, then KILL
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 60); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  stop "$peer_pid"
  stop "$semrec_pid"
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() { # pid url secs log
  for i in $(seq 1 $(($3 * 2))); do
    kill -0 "$1" 2>/dev/null || { tail -40 "$4" >&2; die "the server exited during start-up (log above)"; }
    curl -fsS "$2" >/dev/null 2>&1 && return 0
    [ "$i" -eq $(($3 * 2)) ] && { tail -40 "$4" >&2; die "$2 did not answer within $3 s"; }
    sleep 0.5
  done
}

# --- semrec ----------------------------------------------------------------------
port="$(free_port)"
pg_port="$(free_port)"
export SEMREC_DATA_DIR="$data" SEMREC_PG_PORT="$pg_port"
unset DATABASE_URL
semrec_url="http://127.0.0.1:$port"
log "starting $bin on $semrec_url (PostgreSQL on 127.0.0.1:$pg_port, data in $data)"
# The API rate limit is per key: raised so that it does not cap the bench. The
# in-flight limit stays at its default (its 429s are reported).
SEMREC_ADDR="127.0.0.1:$port" SEMREC_METRICS_ADDR=127.0.0.1:0 \
  SEMREC_DEMO_CATALOG="$catalog" SEMREC_MODEL_DIR="$model" \
  SEMREC_ADMIN_PASSWORD="bench-peer-$$-$RANDOM" SEMREC_LOG=warn \
  SEMREC_API_RATE=1000000 SEMREC_API_BURST=1000000 \
  "$bin" serve >"$work/semrec.log" 2>&1 &
semrec_pid=$!
# The first start embeds the demo catalogue: minutes on a busy 2-core machine.
wait_ready "$semrec_pid" "$semrec_url/api/v1/health/ready" "${BENCH_PEER_READY_SECS:-1800}" "$work/semrec.log"
key_name="bench-peer-$(date +%s)-$$"
key="$("$bin" api-key create --name "$key_name" --scope write 2>>"$work/semrec.log")"
[ -n "$key" ] || die "could not create an API key (log: $work/semrec.log)"
# Both sides must answer a full list before anything is timed.
ten_items() { # name (reads a response body)
  python3 -c 'import json, sys; n = len(json.load(sys.stdin)["items"]); sys.exit(n != 10)' \
    || die "$1 did not answer a list of 10 items"
}
curl -fsS "$semrec_url/api/v1/recommendations" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"profile": {"interests": ["space opera"]}, "k": 10}' | ten_items semrec

# The peer uses the same database, as the same superuser.
password="$(cat "$data/semrec_superuser.password")"
peer_db="postgresql://semrec:$password@127.0.0.1:$pg_port/semrec"
items="$("$PG_BIN/psql" "$peer_db" -Atc 'SELECT count(*) FROM items WHERE embedding IS NOT NULL')" \
  || die "the peer cannot reach semrec's database at 127.0.0.1:$pg_port"

# --- the peer -------------------------------------------------------------------
peer_port="$(free_port)"
peer_url="http://127.0.0.1:$peer_port"
start_peer() { # workers
  log "starting the peer with $1 uvicorn worker(s) on $peer_url"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PEER_MODEL="$model" PEER_DATABASE_URL="$peer_db" \
    "$venv/bin/python" -m uvicorn app:app --app-dir "$ROOT/bench/peer" \
    --host 127.0.0.1 --port "$peer_port" --workers "$1" --log-level warning --no-access-log \
    >"$work/peer-$1.log" 2>&1 &
  peer_pid=$!
  wait_ready "$peer_pid" "$peer_url/health" 300 "$work/peer-$1.log"
  # Every worker must have loaded its model before the clock runs.
  curl -fsS "$peer_url/recommend" -H 'Content-Type: application/json' \
    -d '{"interests": ["space opera"], "k": 10}' | ten_items "the peer"
}

# --- load ------------------------------------------------------------------------
results="$work/results.tsv"
: >"$results"
lua="$ROOT/bench/peer/profiles.lua"
load() { # side url row clients round
  local threads=$(($4 < 2 ? $4 : 2))
  local line
  line="$(wrk -t "$threads" -c "$4" -d "${secs}s" --timeout 10s -s "$lua" "$2" -- "${1%%-*}" "$3" "$key" |
    grep '^RESULT')" || die "wrk gave no result for $1 $3 $4 clients"
  log "$1 $3 $4 clients round $5: $line"
  echo "$1 $3 $4 $5 ${line#RESULT }" >>"$results"
}
warm() { # side url: a few seconds, not counted
  wrk -t 2 -c 4 -d 3s --timeout 10s -s "$lua" "$2" -- "${1%%-*}" distinct "$key" >/dev/null
}
side() { # name url round
  warm "$1" "$2"
  for row in $rows; do
    for c in $clients; do load "$1" "$2" "$row" "$c" "$3"; done
  done
}

load_before="$(uptime | sed 's/.*load average: //')"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
for r in $(seq 1 "$rounds"); do
  side semrec "$semrec_url/api/v1/recommendations" "$r"
  for w in $workers; do
    start_peer "$w"
    side "peer-w$w" "$peer_url/recommend" "$r"
    stop "$peer_pid"
    peer_pid=""
  done
done
"$bin" api-key revoke "$key_name" >/dev/null 2>>"$work/semrec.log" || true

# --- report ----------------------------------------------------------------------
flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|fma|avx512f|avx512_vnni|avx512_bf16|avx_vnni' | paste -sd ' ')"
{
  echo "- date: $started"
  echo "- command: \`scripts/bench-peer.sh\` ($(basename "$bin"): $bin), ${secs} s per point, $rounds alternated rounds, wrk with \`bench/peer/profiles.lua\`, k = 10"
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p') (cpuid family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1) model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(nproc) cores; flags: ${flags:-none of avx2/fma/avx512f/avx512_bf16}"
  echo "- catalogue: ${catalog#"$ROOT"/} ($items items) in semrec's embedded PostgreSQL; the peer queries the same \`items\` table"
  echo "- load average before: $load_before; after: $(uptime | sed 's/.*load average: //')"
  echo
  python3 "$ROOT/bench/peer/report.py" "$results"
} >"$out/peer.md"
cat "$out/peer.md"
log "report in $out/peer.md"
