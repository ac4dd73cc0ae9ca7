#!/usr/bin/env bash
# Runs the whole test suite (scripts/test.sh) in a fresh clone of the current
# commit, in a temporary folder with nothing beside it: what a user's clone sees.
# It proves that no test or script depends on files outside the repository
# (such as a ../shared folder) or on uncommitted files.
#
# Shared with this clone, so only the workspace crates are rebuilt (the fresh
# checkout's files are new to cargo): the cargo target dir, the tools dir, the
# model folders and the downloaded datasets. Not shared: data/postgres (the dev
# database). The clone always goes to the same place, <cache>/fresh-clone/semrec,
# so repeated checks reuse one set of workspace artifacts instead of adding one
# per temporary path; it is left there for inspection and replaced by the next run.
#   scripts/fresh-clone-check.sh          check HEAD (commit first: uncommitted work is not seen)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$(date +%s)
commit="$(git -C "$ROOT" rev-parse HEAD)"
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] ||
  log "note: uncommitted changes are not part of the check (it tests $commit)"

scratch="$(cache_dir)/fresh-clone"
rm -rf "$scratch" && mkdir -p "$scratch"
clone="$scratch/semrec"
git clone --quiet --no-local --no-checkout "$ROOT" "$clone"
git -C "$clone" checkout --quiet --detach "$commit"
[ ! -e "$scratch/shared" ] || die "$scratch/shared exists; the check needs a clone with nothing beside it"

# Shared caches (see above).
mkdir -p "$ROOT/models" "$ROOT/data" "$clone/data"
ln -s "$ROOT/models" "$clone/models"
for d in cache demo movielens; do
  mkdir -p "$ROOT/data/$d"
  ln -s "$ROOT/data/$d" "$clone/data/$d"
done
export CARGO_TARGET_DIR SEMREC_TOOLS_DIR="$TOOLS_DIR"

log "fresh clone of $commit in $clone"
(cd "$clone" && scripts/test.sh)
log "fresh-clone check passed in $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s"
