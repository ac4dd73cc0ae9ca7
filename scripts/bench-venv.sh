#!/usr/bin/env bash
# Makes sure the Python venv with sentence-transformers exists (the canonical
# implementation semrec is compared with) and prints its path. Idempotent.
# Installed from the package index pip is configured with, nothing else
# (torch comes with its CUDA libraries, about 6 GB; the CPU is used).
#   SEMREC_BENCH_VENV   where the venv lives (default /var/cache/semrec/bench-venv,
#                       or ~/.cache/semrec/bench-venv when that is not writable)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV="${SEMREC_BENCH_VENV:-$(cache_dir)/bench-venv}"
if ! "$VENV/bin/python" -c "import sentence_transformers" 2>/dev/null; then
  log "installing sentence-transformers into $VENV (once; several GB)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q sentence-transformers \
    || die "pip could not install sentence-transformers into $VENV"
fi
echo "$VENV"
