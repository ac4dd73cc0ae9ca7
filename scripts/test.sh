#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit and integration tests
# (real PostgreSQL + pgvector in throwaway clusters, real SBERT weights), and
# the Playwright end-to-end tests in Chromium against the built app.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
# The multilingual model tests (embed/tests/multilingual.rs and the reindex test
# engine/tests/embedding_multilingual.rs) need it.
"$ROOT/scripts/fetch-e5.sh"

step() { log "── $*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "clippy (server side)"
cargo clippy -q -p embed -p pg-local -p test-support -p engine -p app -p server -p eval -p bench --all-targets -- -D warnings
step "clippy (browser side, wasm32)"
cargo clippy -q -p frontend --target wasm32-unknown-unknown --profile wasm-release -- -D warnings

step "unit and integration tests"
test_log="$(mktemp)"
cargo test -p embed -p pg-local -p engine -p app -p server -p eval -p bench 2>&1 | tee "$test_log"
# Kernel tests that need instructions this CPU lacks are ignored with the reason
# (never passed without running): say how many, so a green run is read right.
gated="$(grep -c 'ignored, needs AVX-512 BF16' "$test_log" || true)"
rm -f "$test_log"
if [ "$gated" -gt 0 ]; then
  log "CPU-gated tests skipped: $gated (this CPU has no AVX-512 BF16; the bf16 kernel's scalar reference path was tested instead)"
else
  log "CPU-gated tests skipped: 0 (this CPU has AVX-512 BF16: the bf16 kernel tests ran)"
fi

step "deployment: systemd unit hardening (deploy/check-systemd.sh)"
"$ROOT/deploy/check-systemd.sh"

step "build the app"
"$ROOT/scripts/build.sh" dev

step "attack and fault matrix (issue #14, its own instance on loopback, at most 5 min)"
"$ROOT/scripts/attack.sh" "$CARGO_TARGET_DIR/debug/semrec"

step "deployment: nginx TLS reverse proxy in front of its own instance on loopback (at most 3 min)"
"$ROOT/deploy/check-nginx.sh" "$CARGO_TARGET_DIR/debug/semrec"

step "end-to-end tests (Playwright, Chromium)"
"$ROOT/scripts/e2e.sh" "$CARGO_TARGET_DIR/debug/semrec"
