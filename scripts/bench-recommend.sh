#!/usr/bin/env bash
# Recommend-path, import and HTTP benchmarks (results: BENCHMARKS.md, "Recommend
# path" and "HTTP load").
#   scripts/bench-recommend.sh                 # 10k + 100k items, import, then HTTP load
#   BENCH_SIZES=10000,100000,1000000 scripts/bench-recommend.sh   # adds 1M (~45 min)
#   BENCH_PARTS="recommend|import|http" scripts/bench-recommend.sh  # some parts only
#   BENCH_INDEX=16:64,32:128 BENCH_DERIVE=mix|noise            # HNSW builds to compare, derived data
# Reports go to $BENCH_OUT (default target/bench/) and to stdout. Each part
# starts its own throwaway PostgreSQL; nothing touches data/postgres.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
sizes="${BENCH_SIZES:-10000,100000}"
parts="${BENCH_PARTS:-recommend import http}"
index="${BENCH_INDEX:-16:64,32:128}"
derive="${BENCH_DERIVE:-mix}"
out="${BENCH_OUT:-$ROOT/target/bench}"
mkdir -p "$out"

[ -f models/all-MiniLM-L6-v2/model.safetensors ] || "$ROOT/scripts/fetch-model.sh"
[ -f data/demo/catalog.jsonl ] || "$ROOT/scripts/fetch-demo-data.sh"

# Two cargo calls: building the server together with the bench would turn on
# hyper's client features for the server too and rebuild it for nothing.
cargo build --release -p bench
bench="$CARGO_TARGET_DIR/release/semrec-bench"

machine() {
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GB RAM"
  echo "- load before the run: $(uptime | sed 's/.*load average: /load average /')"
}

for part in $parts; do
  case "$part" in
    recommend)
      machine >"$out/recommend.md"
      log "recommend path at $sizes items"
      "$bench" recommend --sizes "$sizes" --index "$index" --derive "$derive" \
        --vector-cache "$out" --out "$out/recommend.body.md"
      cat "$out/recommend.body.md" >>"$out/recommend.md"
      echo "- load after the run: $(uptime | sed 's/.*load average: /load average /')" >>"$out/recommend.md"
      ;;
    import)
      machine >"$out/import.md"
      log "import vs pure embedding"
      "$bench" import --items "${BENCH_IMPORT_ITEMS:-0}" --rounds 2 --out "$out/import.body.md"
      cat "$out/import.body.md" >>"$out/import.md"
      echo "- load after the run: $(uptime | sed 's/.*load average: /load average /')" >>"$out/import.md"
      ;;
    http)
      cargo build --release -p server
      machine >"$out/http.md"
      log "HTTP load on the release server"
      "$bench" http --bin "$CARGO_TARGET_DIR/release/semrec" --out "$out/http.body.md"
      cat "$out/http.body.md" >>"$out/http.md"
      echo "- load after the run: $(uptime | sed 's/.*load average: /load average /')" >>"$out/http.md"
      ;;
    *) die "unknown part '$part' (recommend, import, http)" ;;
  esac
done
log "reports in $out"
