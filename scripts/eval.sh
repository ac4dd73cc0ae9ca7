#!/usr/bin/env bash
# Offline evaluation: semrec against random, popularity, TF-IDF, BM25 and LDA on
# MovieLens (leave-last-out by time), through semrec's real path (a throwaway
# PostgreSQL + pgvector cluster, the real SBERT model). Fetches the data and the
# model when missing, builds `semrec-eval` (engine and eval optimised), prints the tables and
# writes docs/EVALUATION.md.
#   scripts/eval.sh                      the full run (both catalogues, tuning included)
#   scripts/eval.sh --sets plots         extra flags go to semrec-eval (--help lists them)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$ROOT/scripts/fetch-demo-data.sh"
"$ROOT/scripts/fetch-model.sh"

# The dev profile shares the dependency builds of `cargo test` (already optimised:
# profile.dev.package."*"); only the engine and the evaluation are built at
# opt-level 3 on top, instead of a second, cold release build of every dependency.
log "building semrec-eval (dev profile, engine and eval optimised)"
cargo build -p eval --manifest-path "$ROOT/Cargo.toml" \
  --config 'profile.dev.package.engine.opt-level=3' \
  --config 'profile.dev.package.eval.opt-level=3'

cd "$ROOT"
log "running the evaluation (about 15 minutes on 2 busy cores)"
"$CARGO_TARGET_DIR/debug/semrec-eval" \
  --data-dir data/movielens \
  --model "${SEMREC_MODEL_DIR:-$ROOT/models/all-MiniLM-L6-v2}" \
  --out "$ROOT/docs/EVALUATION.md" \
  "$@"
