#!/usr/bin/env bash
# Throughput of one semrec instance, two instances on one primary, and two
# instances reading candidates from a streaming replica (DATABASE_READ_URL),
# side by side in one run, with the CPU each process used.
#   scripts/bench-instances.sh [path/to/semrec]   # default: the release build (built if missing)
# Knobs (environment):
#   BENCH_INSTANCES_SECS=20       seconds per point
#   BENCH_INSTANCES_CLIENTS=8     concurrent connections in total (split over the instances)
#   BENCH_INSTANCES_ROUNDS=2      alternated rounds over the three set-ups
#   BENCH_INSTANCES_ITEMS=1000    items of data/demo/catalog.jsonl imported (the first N)
#   BENCH_OUT                     where the report goes (default target/bench/instances.md)
# The load is bench/peer/profiles.lua's distinct one-interest profiles (no embedding
# cache hits), k = 10, through the JSON API. With two instances, two wrk processes
# run at once, one per instance, each with half the connections; their 2xx rates
# are summed. Two clusters are made in a temporary folder (trust authentication
# on 127.0.0.1, removed at the end): the primary and a `pg_basebackup -R` replica.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

secs="${BENCH_INSTANCES_SECS:-20}"
clients="${BENCH_INSTANCES_CLIENTS:-8}"
rounds="${BENCH_INSTANCES_ROUNDS:-2}"
n_items="${BENCH_INSTANCES_ITEMS:-1000}"
out="${BENCH_OUT:-$ROOT/target/bench}"
model="$ROOT/models/all-MiniLM-L6-v2"
lua="$ROOT/bench/peer/profiles.lua"
mkdir -p "$out"
command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk (scripts/bench-peer.sh installs it)"
[ -f "$ROOT/data/demo/catalog.jsonl" ] || "$ROOT/scripts/fetch-demo-data.sh"

bin="${1:-$CARGO_TARGET_DIR/release/semrec}"
if [ -z "${1:-}" ] && [ ! -x "$bin" ]; then
  log "building the release server"
  cargo build --release -p server --bin semrec
fi
"$bin" serve --help | grep -q DATABASE_READ_URL || die "$bin has no DATABASE_READ_URL: rebuild it"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# PostgreSQL refuses to run as root.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work="$(mktemp -d /tmp/semrec-bench-instances.XXXXXX)"
chmod 755 "$work"
pids=()
stop() { # pid: TERM, wait up to 30 s, then KILL
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 60); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  for p in "${pids[@]}"; do stop "$p"; done
  for d in replica primary; do
    [ -f "$work/$d/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$work/$d" -m fast stop >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

# --- the clusters ---------------------------------------------------------------
pp="$(free_port)"
rp="$(free_port)"
mkdir -p "$work/primary" "$work/replica"
chmod 700 "$work/primary" "$work/replica"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/primary" "$work/replica"
as_pg "$PG_BIN/initdb" -D "$work/primary" -U semrec --auth=trust --no-sync >/dev/null
cluster_conf() { # dir port
  printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nmax_connections = 300\nshared_buffers = 256MB\nfsync = off\nsynchronous_commit = off\n" \
    "$2" "$1" | as_pg tee -a "$1/postgresql.conf" >/dev/null
}
cluster_conf "$work/primary" "$pp"
as_pg "$PG_BIN/pg_ctl" -D "$work/primary" -l "$work/primary/log" -w start >/dev/null
as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$pp" -U semrec -d postgres -qc 'CREATE DATABASE semrec'
as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$pp" -U semrec -d semrec -qc 'CREATE EXTENSION vector'
primary_url="postgres://semrec@127.0.0.1:$pp/semrec"
replica_url="postgres://semrec@127.0.0.1:$rp/semrec"

head -n "$n_items" "$ROOT/data/demo/catalog.jsonl" >"$work/catalog.jsonl"
start_instance() { # name [read url]; prints the pid, sets the URL in $work/NAME.url
  local port metrics
  port="$(free_port)"
  metrics="$(free_port)"
  echo "http://127.0.0.1:$metrics/metrics" >"$work/$1.metrics"
  DATABASE_URL="$primary_url" DATABASE_READ_URL="${2:-}" SEMREC_ADDR="127.0.0.1:$port" \
    SEMREC_METRICS_ADDR="127.0.0.1:$metrics" SEMREC_EXPECTED_INSTANCES=2 \
    SEMREC_DEMO_CATALOG="$work/catalog.jsonl" SEMREC_MODEL_DIR="$model" \
    SEMREC_ADMIN_PASSWORD="bench-instances-$$" SEMREC_LOG=warn \
    SEMREC_API_RATE=1000000 SEMREC_API_BURST=1000000 \
    "$bin" serve >"$work/$1.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  echo "http://127.0.0.1:$port" >"$work/$1.url"
  for _ in $(seq 1 1200); do
    curl -fsS "http://127.0.0.1:$port/api/v1/health/ready" >/dev/null 2>&1 && { echo "$pid" >"$work/$1.pid"; return 0; }
    kill -0 "$pid" 2>/dev/null || { tail -30 "$work/$1.log" >&2; die "$1 exited during start-up"; }
    sleep 0.5
  done
  die "$1 was not ready within 10 min"
}
log "importing the first $n_items demo items through the first instance"
start_instance a
key="$(DATABASE_URL="$primary_url" "$bin" api-key create --name bench --scope write 2>>"$work/a.log")"

# The replica, after the import (its base backup holds the catalogue).
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pp" -U semrec -D "$work/replica" -R -X stream --checkpoint=fast --no-sync
sed -i '/^port = /d; /^unix_socket_directories = /d' "$work/replica/postgresql.conf"
printf "port = %s\nunix_socket_directories = '%s'\n" "$rp" "$work/replica" | as_pg tee -a "$work/replica/postgresql.conf" >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$work/replica" -l "$work/replica/log" -w start >/dev/null \
  || { tail -20 "$work/replica/log" >&2; die "the replica did not start"; }
start_instance b
start_instance ra "$replica_url"
start_instance rb "$replica_url"
for i in ra rb; do
  grep -q "replica caught up" "$work/$i.log" 2>/dev/null || sleep 2
done

# --- CPU accounting ----------------------------------------------------------------
# Seconds of CPU (user + system) of one process, or of every process of a cluster
# (the postmaster and its children, the backends).
cpu_of_pid() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_of_cluster() { # data dir
  local pm
  pm="$(head -1 "$1/postmaster.pid")"
  python3 - "$pm" <<'EOF'
import os, sys
pm = sys.argv[1]; tck = os.sysconf("SC_CLK_TCK"); total = 0.0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if p == pm or f[1] == pm:
        total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tck
print(total)
EOF
}

# --- load ------------------------------------------------------------------------
results="$work/results.tsv"
: >"$results"
run() { # setup instance...
  local setup="$1"; shift
  local n=$# per=$((clients / $#)) url
  local before=() after=() pb rb pa ra
  for i in "$@"; do
    url="$(cat "$work/$i.url")/api/v1/recommendations"
    wrk -t 1 -c 2 -d 2s --timeout 10s -s "$lua" "$url" -- semrec distinct "$key" >/dev/null
  done
  for i in "$@"; do before+=("$(cpu_of_pid "$(cat "$work/$i.pid")")"); done
  pb="$(cpu_of_cluster "$work/primary")"; rb="$(cpu_of_cluster "$work/replica")"
  local wrks=()
  for i in "$@"; do
    url="$(cat "$work/$i.url")/api/v1/recommendations"
    wrk -t "$(( per < 2 ? per : 2 ))" -c "$per" -d "${secs}s" --timeout 10s -s "$lua" "$url" -- semrec distinct "$key" \
      | grep '^RESULT' >"$work/$setup-$i.result" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  for i in "$@"; do after+=("$(cpu_of_pid "$(cat "$work/$i.pid")")"); done
  pa="$(cpu_of_cluster "$work/primary")"; ra="$(cpu_of_cluster "$work/replica")"
  local k=0 ok=0 s429=0 dur=0 p50s="" p99s="" cpus=""
  for i in "$@"; do
    line="$(cat "$work/$setup-$i.result")"
    get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
    ok=$((ok + $(get ok))); s429=$((s429 + $(get s429)))
    dur="$(get duration_us)"
    p50s="$p50s $(( $(get p50_us) / 1000 ))"; p99s="$p99s $(( $(get p99_us) / 1000 ))"
    cpus="$cpus $(python3 -c "print(f'{(${after[$k]} - ${before[$k]}) / ($dur / 1e6) * 100:.0f}')")"
    k=$((k + 1))
  done
  local rate
  rate="$(python3 -c "print(f'{$ok / ($dur / 1e6):.1f}')")"
  pcpu="$(python3 -c "print(f'{($pa - $pb) / ($dur / 1e6) * 100:.0f}')")"
  rcpu="$(python3 -c "print(f'{($ra - $rb) / ($dur / 1e6) * 100:.0f}')")"
  log "$setup: $rate lists/s (429: $s429), p50 ms:$p50s, p99 ms:$p99s, CPU % semrec:$cpus, primary $pcpu, replica $rcpu"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$rate" "$s429" "${p50s# }" "${p99s# }" "${cpus# }" "$pcpu" "$rcpu" >>"$results"
}

load_before="$(uptime | sed 's/.*load average: //')"
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
for r in $(seq 1 "$rounds"); do
  run "1 instance" a
  run "2 instances" a b
  run "2 instances, reads on the replica" ra rb
done
replica_reads() { # instance
  curl -fsS "$(cat "$work/$1.metrics")" | sed -n "s/^semrec_$2_reads_total //p" || true
}

# --- report ----------------------------------------------------------------------
{
  echo "- date: $started"
  echo "- command: \`scripts/bench-instances.sh\` ($bin), ${secs} s per point, $rounds alternated rounds, $clients connections in total, wrk with \`bench/peer/profiles.lua\` (distinct one-interest profiles), k = 10"
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p') (cpuid family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1) model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(nproc) cores"
  echo "- catalogue: the first $n_items items of data/demo/catalog.jsonl; primary and replica are PostgreSQL 15 on 127.0.0.1 (fsync off)"
  echo "- load average before: $load_before; after: $(uptime | sed 's/.*load average: //')"
  for i in ra rb; do
    echo "- instance $i (reads on the replica), whole run: $(replica_reads "$i" replica) reads on the replica, $(replica_reads "$i" primary) on the primary"
  done
  echo
  echo "| set-up | lists/s (2xx) | 429 | p50 ms per instance | p99 ms per instance | CPU % per semrec | CPU % primary | CPU % replica |"
  echo "|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r s rate s429 p50 p99 cpus pcpu rcpu; do
    echo "| $s | $rate | $s429 | $p50 | $p99 | $cpus | $pcpu | $rcpu |"
  done <"$results"
} >"$out/instances.md"
cat "$out/instances.md"
log "report in $out/instances.md"
