#!/usr/bin/env bash
# Builds the site the way cargo-leptos does, without needing cargo-leptos:
# the WASM front end (size profile, wasm-bindgen, wasm-opt), the CSS, and the server.
#   scripts/build.sh [release|dev]   server profile; the front end is always size-optimised
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
profile="${1:-release}"
cd "$ROOT"

command -v wasm-bindgen >/dev/null || die "wasm-bindgen CLI missing: run scripts/setup.sh"
command -v wasm-opt >/dev/null || die "wasm-opt missing: run scripts/setup.sh"

pkg="$SITE_ROOT/pkg"
mkdir -p "$pkg"

log "building the front end (wasm32, wasm-release)"
cargo build -q -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
stamp="$pkg/.built-from"
# Skip bindgen + wasm-opt (slow) when the wasm did not change.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum "$wasm" | cut -d' ' -f1)" ] || [ ! -f "$pkg/semrec.wasm" ]; then
  wasm-bindgen --target web --no-typescript --out-name semrec --out-dir "$pkg" "$wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$pkg/semrec_bg.wasm" -o "$pkg/semrec.wasm"
  rm -f "$pkg/semrec_bg.wasm"
  gzip -9 -k -f "$pkg/semrec.wasm" && gzip -9 -k -f "$pkg/semrec.js"
  sha256sum "$wasm" | cut -d' ' -f1 >"$stamp"
fi
cp style/main.css "$pkg/semrec.css" && gzip -9 -k -f "$pkg/semrec.css"
log "front end: $(stat -c%s "$pkg/semrec.wasm") bytes wasm, $(stat -c%s "$pkg/semrec.wasm.gz") bytes gzipped (target: 250000)"

log "building the server ($profile)"
if [ "$profile" = "release" ]; then
  cargo build -q -p server --release
else
  cargo build -q -p server
fi
