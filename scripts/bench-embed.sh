#!/usr/bin/env bash
# Embedding benchmark, side by side with Python sentence-transformers:
#   scripts/bench-embed.sh            semrec (cargo bench) + Python on the same texts
#   scripts/bench-embed.sh --no-python   semrec only
# Model: SEMREC_MODEL_DIR (default models/all-MiniLM-L6-v2). Texts: the demo
# catalog (data/movielens/plots/items.jsonl), title + plot, batch 32.
# The Python side lives in its own venv (SEMREC_BENCH_VENV, default
# /var/cache/semrec/bench-venv; ≈ 6 GB with torch's CUDA libraries, CPU is used).
# Only this benchmark needs it; tests never do.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

with_python=1
[ "${1:-}" = "--no-python" ] && with_python=0

MODEL_DIR="$(realpath "${SEMREC_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}")"
export SEMREC_MODEL_DIR="$MODEL_DIR"
VENV="${SEMREC_BENCH_VENV:-/var/cache/semrec/bench-venv}"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT

[ -f "$MODEL_DIR/model.safetensors" ] || "$ROOT/scripts/fetch-model.sh"
[ -f "${SEMREC_BENCH_ITEMS:-$ROOT/data/movielens/plots/items.jsonl}" ] || "$ROOT/scripts/fetch-demo-data.sh"

setup_venv() {
  if "$VENV/bin/python" -c "import sentence_transformers" 2>/dev/null; then return; fi
  log "installing sentence-transformers into $VENV (once; several GB)"
  python3 -m venv "$VENV"
  # torch's CPU-only index is much smaller; use it only where it is reachable.
  if "$VENV/bin/python" - <<'EOF' 2>/dev/null
import urllib.request
urllib.request.urlopen("https://download.pytorch.org/whl/cpu/torch/", timeout=10)
EOF
  then
    "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu
  fi
  "$VENV/bin/pip" install -q sentence-transformers
}

log "load: $(uptime | sed 's/.*load average/load average/')"
log "semrec: cargo bench -p engine --bench embed"
# SEMREC_BENCH_BIN: an already built bench binary (skips cargo, e.g. while the
# target dir is busy).
if [ -n "${SEMREC_BENCH_BIN:-}" ]; then
  "$SEMREC_BENCH_BIN" --json "$out/semrec.json" --dump-texts "$out/texts.json"
else
  cargo bench -q -p engine --bench embed -- --json "$out/semrec.json" --dump-texts "$out/texts.json"
fi

if [ "$with_python" -eq 1 ]; then
  setup_venv
  log "Python sentence-transformers on the same texts"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/python" - "$MODEL_DIR" "$out/texts.json" "$out/python.json" <<'EOF'
import json, os, sys, time
import torch
from sentence_transformers import SentenceTransformer

model_dir, texts_path, out_path = sys.argv[1:4]
PROFILE = "I love slow science fiction films about lonely astronauts, time travel and moral dilemmas."
texts = json.load(open(texts_path))

def peak_rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

t0 = time.perf_counter()
model = SentenceTransformer(model_dir, device="cpu")
load_s = time.perf_counter() - t0
rss_loaded = peak_rss_mib()
model.encode(texts[:32], batch_size=32, normalize_embeddings=True)  # warm-up
rounds, times = int(os.environ.get("SEMREC_BENCH_ROUNDS", "3")), []
for _ in range(rounds):
    t = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    times.append(time.perf_counter() - t)
for _ in range(10):
    model.encode([PROFILE], normalize_embeddings=True)
lat = []
for _ in range(200):
    t = time.perf_counter()
    model.encode([PROFILE], normalize_embeddings=True)
    lat.append((time.perf_counter() - t) * 1e3)
lat.sort()
tok = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
n = len(texts)
mean = sum(times) / rounds
report = {
    "implementation": f"Python sentence-transformers (torch {torch.__version__} CPU)",
    "threads": torch.get_num_threads(),
    "texts": n,
    "mean_tokens": sum(len(t) for t in tok) / n,
    "texts_per_s": n / mean,
    "texts_per_s_best": n / min(times),
    "tokens_per_s": sum(len(t) for t in tok) / mean,
    "latency_p50_ms": lat[int(round(0.50 * (len(lat) - 1)))],
    "latency_p99_ms": lat[int(round(0.99 * (len(lat) - 1)))],
    "load_s": load_s,
    "peak_rss_loaded_mib": rss_loaded,
    "peak_rss_end_mib": peak_rss_mib(),
}
json.dump(report, open(out_path, "w"), indent=1)
print(f"  throughput      {report['texts_per_s']:.1f} texts/s (best {report['texts_per_s_best']:.1f})")
print(f"  one profile     p50 {report['latency_p50_ms']:.1f} ms, p99 {report['latency_p99_ms']:.1f} ms")
print(f"  peak RSS        {rss_loaded:.0f} MiB after load, {report['peak_rss_end_mib']:.0f} MiB at the end")
EOF
fi

log "load: $(uptime | sed 's/.*load average/load average/')"
python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
r = [json.load(open(os.path.join(out, f))) for f in ("semrec.json", "python.json") if os.path.exists(os.path.join(out, f))]
print("\n| | " + " | ".join(x["implementation"] for x in r) + " |")
print("|---|" + "---|" * len(r))
rows = [("catalog texts/s (batch 32, mean of rounds)", "texts_per_s", "{:.1f}"),
        ("catalog texts/s (best round)", "texts_per_s_best", "{:.1f}"),
        ("tokens/s", "tokens_per_s", "{:.0f}"),
        ("one profile p50 (ms)", "latency_p50_ms", "{:.1f}"),
        ("one profile p99 (ms)", "latency_p99_ms", "{:.1f}"),
        ("peak RSS after load (MiB)", "peak_rss_loaded_mib", "{:.0f}"),
        ("peak RSS at end (MiB)", "peak_rss_end_mib", "{:.0f}"),
        ("model load (s)", "load_s", "{:.2f}"),
        ("threads", "threads", "{}")]
for label, key, fmt in rows:
    print(f"| {label} | " + " | ".join(fmt.format(x[key]) for x in r) + " |")
if len(r) == 2:
    s, p = r
    print(f"\nthroughput ratio {s['texts_per_s'] / p['texts_per_s']:.2f}x, "
          f"latency ratio {s['latency_p50_ms'] / p['latency_p50_ms']:.2f}x (semrec / Python)")
EOF
