#!/usr/bin/env bash
# Sets up everything (idempotent), builds in release mode and serves semrec on
# http://127.0.0.1:3000. Without DATABASE_URL it runs its own PostgreSQL in data/postgres.
#   scripts/run.sh [serve flags...]        serve (the default)
#   scripts/run.sh import items.jsonl      any other semrec command, from the clone's root
#   scripts/run.sh api-key create --name N (so relative defaults such as data/postgres hold)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" release
cd "$ROOT"
# A subcommand anywhere in the arguments (global flags may come first) is passed
# through; otherwise the arguments are serve's.
for arg in "$@"; do
  case "$arg" in
    serve|import|reindex|api-key|help|-h|--help|-V|--version) exec "$CARGO_TARGET_DIR/release/semrec" "$@" ;;
  esac
done
exec "$CARGO_TARGET_DIR/release/semrec" serve "$@"
