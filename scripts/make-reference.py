#!/usr/bin/env python3
"""Regenerates the embedding parity fixture with the canonical Python implementation.

Reads embed/tests/fixtures/reference-texts.jsonl (kind, text), embeds every text
with sentence-transformers (normalize_embeddings=True, CPU) from the local model
folder, and writes embed/tests/fixtures/all-MiniLM-L6-v2.reference.jsonl: a first
line {"meta": {...}} naming the library versions and the sha256 of the model's
model.safetensors (engine/tests/embedding_parity.rs refuses a model folder whose
hash differs), then one line per text with n_tokens and the 384-float embedding.

    scripts/make-reference.py [MODEL_DIR]     (default models/all-MiniLM-L6-v2)

Runs itself in the bench venv (scripts/bench-venv.sh installs it) when the
current Python lacks sentence-transformers. The hub is never contacted.
"""
import hashlib
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = os.path.join(ROOT, "embed/tests/fixtures/reference-texts.jsonl")
OUT = os.path.join(ROOT, "embed/tests/fixtures/all-MiniLM-L6-v2.reference.jsonl")

try:
    import sentence_transformers
except ImportError:
    venv = subprocess.run([os.path.join(ROOT, "scripts/bench-venv.sh")], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    python = os.path.join(venv, "bin", "python")
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])

os.environ["HF_HUB_OFFLINE"] = "1"
import torch  # noqa: E402  (after the venv switch)
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    model_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                                else os.path.join(ROOT, "models/all-MiniLM-L6-v2"))
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        sys.exit(f"{model_dir} has no model.safetensors: run scripts/fetch-model.sh first")
    with open(TEXTS, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode([r["text"] for r in rows], batch_size=32,
                           normalize_embeddings=True, convert_to_numpy=True)
    meta = {
        "generator": "scripts/make-reference.py",
        "model": os.path.basename(model_dir),
        "model_safetensors_sha256": sha256(os.path.join(model_dir, "model.safetensors")),
        "max_seq_length": model.max_seq_length,
        "normalize_embeddings": True,
        "python": platform.python_version(),
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(json.dumps({"meta": meta}) + "\n")
        for row, vec in zip(rows, vectors):
            n_tokens = len(model.tokenize([row["text"]])["input_ids"][0])
            f.write(json.dumps({
                "kind": row["kind"], "text": row["text"], "n_tokens": n_tokens,
                "embedding": [round(float(x), 7) for x in vec],
            }, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} references to {os.path.relpath(OUT, ROOT)} "
          f"(sentence-transformers {meta['sentence_transformers']}, torch {meta['torch']})")


if __name__ == "__main__":
    main()
