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
# wasm-bindgen's output before it gets its content-hashed name (outside the site: never served).
out="$ROOT/target/bundle"
mkdir -p "$pkg" "$out"

log "building the front end (wasm32, wasm-release)"
cargo build -q -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
stamp="$out/.built-from"
# Skip bindgen + wasm-opt (slow) when the wasm did not change.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(sha256sum "$wasm" | cut -d' ' -f1)" ] || [ ! -f "$out/semrec.wasm" ]; then
  wasm-bindgen --target web --no-typescript --out-name semrec --out-dir "$out" "$wasm"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$out/semrec_bg.wasm" -o "$out/semrec.wasm"
  rm -f "$out/semrec_bg.wasm"
  sha256sum "$wasm" | cut -d' ' -f1 >"$stamp"
fi
cp style/main.css "$out/semrec.css"
# One content hash names all three files: a page names the bundle it was built
# with, and the server tells browsers to keep such files for a year.
hash="$(cat "$out/semrec.js" "$out/semrec.wasm" "$out/semrec.css" | sha256sum | cut -c1-16)"
name="semrec.$hash"
if [ ! -f "$pkg/$name.wasm.gz" ] || [ "$(cat "$SITE_ROOT/bundle.txt" 2>/dev/null)" != "$name" ]; then
  for ext in js wasm css; do
    cp "$out/semrec.$ext" "$pkg/$name.$ext" && gzip -9 -k -f "$pkg/$name.$ext"
  done
  # The server started next names the new bundle. The previous one stays for a
  # server still running until it is restarted; older ones (and the unhashed
  # names of builds before hashing) go.
  previous="$(cat "$SITE_ROOT/bundle.txt" 2>/dev/null || echo none)"
  echo "$name" >"$SITE_ROOT/bundle.txt.new" && mv "$SITE_ROOT/bundle.txt.new" "$SITE_ROOT/bundle.txt"
  find "$pkg" -maxdepth 1 -type f -name 'semrec*' ! -name "$name.*" ! -name "$previous.*" -delete
  rm -f "$pkg/.built-from"
fi
log "front end $name: $(stat -c%s "$pkg/$name.wasm") bytes wasm, $(stat -c%s "$pkg/$name.wasm.gz") bytes gzipped (target: 250000)"

log "building the server ($profile)"
if [ "$profile" = "release" ]; then
  cargo build -q -p server --release
else
  cargo build -q -p server
fi
