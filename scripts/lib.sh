# Shared shell helpers for semrec's scripts. Source it, don't run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

log() { printf '\033[1;34m[semrec]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[semrec] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Run as root directly, or through sudo when not root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Cargo and rustup live in ~/.cargo/bin on a rustup install.
if [ -d "$HOME/.cargo/bin" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi

# Caches kept across clones: /var/cache/semrec, or ~/.cache/semrec without root.
cache_dir() { "$ROOT/scripts/cache-dir.sh"; }

# One target dir outside the clone keeps warm rebuilds fast for every clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Tools the project installs for itself (wasm-opt from npm, wasm-bindgen CLI).
TOOLS_DIR="${SEMREC_TOOLS_DIR:-$ROOT/.tools}"
export TOOLS_DIR
export PATH="$TOOLS_DIR/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
export PG_BIN

# Leptos reads the bundle name at compile time (option_env!): set it for every
# cargo call so test, clippy and server builds share one set of artifacts.
export LEPTOS_OUTPUT_NAME=semrec
SITE_ROOT="$ROOT/target/site"
export SITE_ROOT

# The Debian mirror this machine's apt uses for bookworm (deb822 .sources files
# or one-line sources.list entries), so a local or proxy mirror is used too.
machine_debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/) { suites = " " $i " " }
        }
        if (uris != "" && suites ~ /[ \t]bookworm[ \t]/) { split(uris, u, /[ \t]+/); print u[1] } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    sed -e 's/\[[^]]*\]//' "$f" | awk '$1 ~ /^deb(-src)?$/ && $3 == "bookworm" { print $2 }'
  done
}
