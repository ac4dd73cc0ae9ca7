#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit and integration tests
# (real PostgreSQL + pgvector in throwaway clusters, real SBERT weights), and
# the Playwright end-to-end tests in Chromium against the built app.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
# The multilingual model test (engine/tests/embedding_multilingual.rs) needs it.
"$ROOT/scripts/fetch-e5.sh"

step() { log "── $*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "clippy (server side)"
cargo clippy -q -p engine -p app -p server -p eval -p bench --all-targets -- -D warnings
step "clippy (browser side, wasm32)"
cargo clippy -q -p frontend --target wasm32-unknown-unknown --profile wasm-release -- -D warnings

step "unit and integration tests"
cargo test -p engine -p app -p server -p eval -p bench

step "build the app"
"$ROOT/scripts/build.sh" dev

step "attack and fault matrix (issue #14, its own instance on loopback, at most 5 min)"
"$ROOT/scripts/attack.sh" "$CARGO_TARGET_DIR/debug/semrec"

step "end-to-end tests (Playwright, Chromium)"
"$ROOT/scripts/e2e.sh" "$CARGO_TARGET_DIR/debug/semrec"
