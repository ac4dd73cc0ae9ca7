#!/usr/bin/env bash
# Sets up everything (idempotent), builds in release mode and serves semrec on
# http://127.0.0.1:3000. Without DATABASE_URL it runs its own PostgreSQL in data/postgres.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh" release
cd "$ROOT"
exec "$CARGO_TARGET_DIR/release/semrec" serve "$@"
