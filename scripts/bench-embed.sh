#!/usr/bin/env bash
# Embedding benchmark, side by side with Python sentence-transformers:
#   scripts/bench-embed.sh               semrec and Python, interleaved rounds
#   scripts/bench-embed.sh --no-python   semrec only (cargo bench's own report)
# Model: SEMREC_MODEL_DIR (default models/all-MiniLM-L6-v2). Texts: the demo
# catalog (data/movielens/plots/items.jsonl), title + plot, the same texts on
# both sides (semrec dumps them, Python reads them).
#
# Fair on a busy machine: both implementations stay loaded in their own process
# and the script alternates them, one catalog pass each per round
# (semrec, Python, semrec in calls of 32, semrec, Python, …), so a change of
# machine load hits both sides alike; it prints every round and compares the
# medians. SEMREC_BENCH_ROUNDS rounds (default 5). Both sides get the same number
# of threads: SEMREC_BENCH_THREADS (default: the CPU count) is RAYON_NUM_THREADS
# for semrec and torch.set_num_threads for Python.
#
# The Python side lives in its own venv (scripts/bench-venv.sh: SEMREC_BENCH_VENV,
# default <cache>/bench-venv; ≈ 6 GB with torch's CUDA libraries, CPU is used).
# Only this benchmark needs it; tests never do.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

with_python=1
[ "${1:-}" = "--no-python" ] && with_python=0

MODEL_DIR="$(realpath "${SEMREC_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}")"
export SEMREC_MODEL_DIR="$MODEL_DIR"
THREADS="${SEMREC_BENCH_THREADS:-$(nproc)}"
export RAYON_NUM_THREADS="$THREADS"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT

[ -f "$MODEL_DIR/model.safetensors" ] || "$ROOT/scripts/fetch-model.sh"
[ -f "${SEMREC_BENCH_ITEMS:-$ROOT/data/movielens/plots/items.jsonl}" ] || "$ROOT/scripts/fetch-demo-data.sh"

if [ "$with_python" -eq 0 ]; then
  log "load: $(uptime | sed 's/.*load average/load average/')"
  log "semrec: cargo bench -p bench --bench embed ($THREADS threads)"
  cargo bench -q -p bench --bench embed
  log "load: $(uptime | sed 's/.*load average/load average/')"
  exit 0
fi

VENV="$("$ROOT/scripts/bench-venv.sh")"
# SEMREC_BENCH_BIN: an already built bench binary (skips cargo, e.g. while the
# target dir is busy).
BIN="${SEMREC_BENCH_BIN:-}"
if [ -z "$BIN" ]; then
  log "building the bench binary (cargo bench -p bench --bench embed --no-run)"
  BIN="$(cargo bench -q -p bench --bench embed --no-run --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "embed" and m.get("executable"):
        print(m["executable"])')"
fi
[ -x "$BIN" ] || die "no bench binary ($BIN)"

# The Python side: the same commands and answers as the bench binary's --serve.
cat > "$out/worker.py" <<'EOF'
import json, os, sys, time
import torch
torch.set_num_threads(int(os.environ["SEMREC_BENCH_THREADS"]))
from sentence_transformers import SentenceTransformer

model_dir, texts_path = sys.argv[1:3]
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
for _ in range(10):
    model.encode([PROFILE], normalize_embeddings=True)
tok = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
info = {
    "implementation": f"Python sentence-transformers (torch {torch.__version__} CPU)",
    "threads": torch.get_num_threads(),
    "texts": len(texts),
    "mean_tokens": sum(len(t) for t in tok) / len(texts),
    "load_s": load_s,
    "peak_rss_loaded_mib": rss_loaded,
}
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "catalog":
        t, cpu = time.perf_counter(), time.process_time()
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        answer = {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu}
    elif cmd[0] == "latency":
        ms = []
        for _ in range(int(cmd[1])):
            t = time.perf_counter()
            model.encode([PROFILE], normalize_embeddings=True)
            ms.append((time.perf_counter() - t) * 1e3)
        answer = {"ms": ms}
    elif cmd[0] == "info":
        answer = dict(info, peak_rss_end_mib=peak_rss_mib())
    else:
        answer = {"error": f"unknown command {line!r}"}
    print(json.dumps(answer), flush=True)
EOF

log "load at start: $(uptime | sed 's/.*load average/load average/')"
SEMREC_BENCH_THREADS="$THREADS" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  python3 - "$BIN" "$VENV/bin/python" "$out" "$MODEL_DIR" "${SEMREC_BENCH_ROUNDS:-5}" <<'EOF'
import json, os, statistics, subprocess, sys

bin_path, venv_python, out, model_dir, rounds = sys.argv[1:6]
rounds = int(rounds)
texts_path = os.path.join(out, "texts.json")

class Side:
    def __init__(self, name, argv, env=None):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"{self.name} exited")
        answer = json.loads(line)
        if "error" in answer:
            sys.exit(f"{self.name}: {answer['error']}")
        return answer
    def close(self):
        self.proc.stdin.close()
        self.proc.wait()

# semrec first: it writes the texts before loading its model. It runs in the
# precision the server would pick (SEMREC_EMBED_PRECISION, default auto: bf16 on
# CPUs with AVX-512 BF16); when that is not f32, a second semrec process in f32
# joins the rounds, so both precisions are measured under the same load.
rust = Side("semrec", [bin_path, "--serve", "--dump-texts", texts_path])
rust_info = rust.ask("info")
f32 = None
if rust_info["precision"] != "f32":
    f32 = Side("semrec f32", [bin_path, "--serve"], dict(os.environ, SEMREC_EMBED_PRECISION="f32"))
    f32_info = f32.ask("info")
py = Side("python", [venv_python, os.path.join(out, "worker.py"), model_dir, texts_path])
py_info = py.ask("info")
n = rust_info["texts"]
prec = rust_info["precision"]
print(f"{n} texts, mean {rust_info['mean_tokens']:.0f} tokens (Python's tokenizer: "
      f"{py_info['mean_tokens']:.0f}); threads: semrec {rust_info['threads']}, Python {py_info['threads']}; "
      f"semrec precision {prec}" + (" (and f32)" if f32 else ""))

f32_col = " semrec f32 texts/s |" if f32 else ""
print(f"\n| round | load (1 min) | semrec ({prec}) texts/s | Python texts/s | ratio |{f32_col} "
      "semrec, calls of 32, texts/s | texts per CPU-second: semrec / Python |")
print("|---|---|---|---|---|" + ("---|" if f32 else "") + "---|---|")
rs, ps, r32, rc, pc, fs = [], [], [], [], [], []
for r in range(1, rounds + 1):
    load = os.getloadavg()[0]
    a, b, c = rust.ask("catalog"), py.ask("catalog"), rust.ask("catalog32")
    rs.append(n / a["seconds"]); ps.append(n / b["seconds"]); r32.append(n / c["seconds"])
    rc.append(n / a["cpu_seconds"]); pc.append(n / b["cpu_seconds"])
    f32_cell = ""
    if f32:
        fs.append(n / f32.ask("catalog")["seconds"])
        f32_cell = f" {fs[-1]:.1f} |"
    print(f"| {r} | {load:.1f} | {rs[-1]:.1f} | {ps[-1]:.1f} | {rs[-1] / ps[-1]:.2f}x |{f32_cell} {r32[-1]:.1f} "
          f"| {rc[-1]:.1f} / {pc[-1]:.1f} |", flush=True)

# Latency: alternating blocks of 50 single-profile runs, 200 per side.
rl, pl, fl = [], [], []
for _ in range(4):
    rl += rust.ask("latency 50")["ms"]
    pl += py.ask("latency 50")["ms"]
    if f32:
        fl += f32.ask("latency 50")["ms"]
rust_info = rust.ask("info")
py_info = py.ask("info")
rust.close(); py.close()
if f32:
    f32_info = f32.ask("info")
    f32.close()

def pct(xs, p):
    xs = sorted(xs)
    return xs[int(round(p * (len(xs) - 1)))]

med = statistics.median
print(f"\n| | semrec ({prec}) |" + (" semrec (f32) |" if f32 else "") + f" {py_info['implementation']} |")
print("|---|---|---|" + ("---|" if f32 else ""))
def row(label, mine, f32_value, python):
    return (label, mine) + ((f32_value,) if f32 else ()) + (python,)
rows = [
    row(f"catalog texts/s, median of {rounds} interleaved rounds", f"{med(rs):.1f}", f"{med(fs):.1f}" if fs else "", f"{med(ps):.1f}"),
    row("catalog texts/s, min–max over rounds", f"{min(rs):.1f}–{max(rs):.1f}", f"{min(fs):.1f}–{max(fs):.1f}" if fs else "", f"{min(ps):.1f}–{max(ps):.1f}"),
    row("catalog texts/s, semrec in calls of 32 (median)", f"{med(r32):.1f}", "–", "–"),
    row("catalog texts per CPU-second (median)", f"{med(rc):.1f}", "–", f"{med(pc):.1f}"),
    row("tokens/s (median)", f"{med(rs) * rust_info['mean_tokens']:.0f}", f"{med(fs) * rust_info['mean_tokens']:.0f}" if fs else "", f"{med(ps) * py_info['mean_tokens']:.0f}"),
    row("one profile p50 (ms)", f"{pct(rl, 0.5):.1f}", f"{pct(fl, 0.5):.1f}" if fl else "", f"{pct(pl, 0.5):.1f}"),
    row("one profile p99 (ms)", f"{pct(rl, 0.99):.1f}", f"{pct(fl, 0.99):.1f}" if fl else "", f"{pct(pl, 0.99):.1f}"),
    row("peak RSS after load (MiB)", f"{rust_info['peak_rss_loaded_mib']:.0f}", f"{f32_info['peak_rss_loaded_mib']:.0f}" if f32 else "", f"{py_info['peak_rss_loaded_mib']:.0f}"),
    row("peak RSS at end (MiB)", f"{rust_info['peak_rss_end_mib']:.0f}", f"{f32_info['peak_rss_end_mib']:.0f}" if f32 else "", f"{py_info['peak_rss_end_mib']:.0f}"),
    row("model load (s)", f"{rust_info['load_s']:.2f}", f"{f32_info['load_s']:.2f}" if f32 else "", f"{py_info['load_s']:.2f}"),
    row("threads", str(rust_info["threads"]), str(f32_info["threads"]) if f32 else "", str(py_info["threads"])),
]
for r in rows:
    print("| " + " | ".join(r) + " |")
ratios = [a / b for a, b in zip(rs, ps)]
print(f"\nthroughput: ratio of medians {med(rs) / med(ps):.2f}x (per-round ratios "
      f"{min(ratios):.2f}–{max(ratios):.2f}x); calls of 32: {med(r32) / med(ps):.2f}x; "
      f"latency p50 ratio {pct(rl, 0.5) / pct(pl, 0.5):.2f}x (semrec / Python)")
if f32:
    print(f"semrec f32: throughput {med(fs) / med(ps):.2f}x Python, latency p50 ratio {pct(fl, 0.5) / pct(pl, 0.5):.2f}x; "
          f"{prec} vs f32: throughput {med(rs) / med(fs):.2f}x")
EOF
log "load at end: $(uptime | sed 's/.*load average/load average/')"
