#!/usr/bin/env bash
# Installs everything semrec needs on a Debian 12 (bookworm) machine. Idempotent:
# each step checks first and does nothing when its result is already there.
#   scripts/setup.sh            system packages, pgvector, Rust target, tools, model, demo data
#   scripts/setup.sh --system   only the system part (apt, pgvector)
#   scripts/setup.sh --build-tools   only what scripts/build.sh needs beside Rust and npm
#                                    (wasm32 target, wasm-bindgen CLI, wasm-opt): the container build
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

only_system=0
[ "${1:-}" = "--system" ] && only_system=1
only_build_tools=0
[ "${1:-}" = "--build-tools" ] && only_build_tools=1

# Debian 12 only: the keyring path, postgresql-15 and a real chromium package are
# bookworm's (Ubuntu's chromium is a snap); nothing else has been tried.
require_debian12() {
  local id="" version="" pretty="an unknown OS (no /etc/os-release)"
  if [ -r /etc/os-release ]; then
    id="$(. /etc/os-release && echo "${ID:-}")"
    version="$(. /etc/os-release && echo "${VERSION_ID:-}")"
    pretty="$(. /etc/os-release && echo "${PRETTY_NAME:-$ID $VERSION_ID}")"
  fi
  if [ "$id" != debian ] || [ "$version" != 12 ]; then
    printf '[semrec] error: scripts/setup.sh supports Debian 12 (bookworm) only; this is %s\n' "$pretty" >&2
    exit 1
  fi
}

# Chromium's recommends (printing, desktop portals: 150 packages) are skipped, but
# pages need real fonts: with fonts-liberation alone fontconfig maps sans-serif to
# Liberation Mono, so fonts-dejavu-core too (what the recommends would have given).
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 dpkg-dev make gcc g++ pkg-config
  ca-certificates curl python3 python3-pip python3-venv nodejs npm chromium fonts-liberation
  fonts-dejavu-core systemd)

apt_install_missing() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # A pre-installed node/python (e.g. from nvm or pyenv) is fine too.
  local keep=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs|npm) command -v "${p/nodejs/node}" >/dev/null || keep+=("$p") ;;
      python3) command -v python3 >/dev/null || keep+=("$p") ;;
      python3-pip) python3 -m pip --version >/dev/null 2>&1 || keep+=("$p") ;;
      *) keep+=("$p") ;;
    esac
  done
  if [ ${#keep[@]} -gt 0 ]; then
    log "installing apt packages: ${keep[*]}"
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${keep[@]}"
  fi
}

# pgvector is not packaged for bookworm: build it from Debian's own source
# package (trixie), using a private apt state so /etc/apt stays untouched.
# The engine sets hnsw.iterative_scan, which needs pgvector 0.8 or later.
PGVECTOR_MIN=0.8
version_ok() { [ "$(printf '%s\n%s\n' "$PGVECTOR_MIN" "$1" | sort -V | head -n1)" = "$PGVECTOR_MIN" ]; }

fetch_pgvector_source() { # work-dir mirror-uri
  local work="$1" mirror="$2"
  rm -rf "$work/lists" "$work/cache" "$work/src" "$work"/pgvector_*
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$work/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq &&
    (cd "$work" && apt-get "${opts[@]}" source -qq --download-only pgvector/trixie >/dev/null &&
      dpkg-source -x --no-check ./pgvector_*.dsc src >/dev/null)
}

install_pgvector() {
  local libdir; libdir="$("$PG_BIN/pg_config" --pkglibdir)"
  local extdir; extdir="$("$PG_BIN/pg_config" --sharedir)/extension"
  if [ -f "$libdir/vector.so" ] && [ -f "$extdir/vector.control" ]; then
    local have; have="$(sed -n "s/^default_version = .\([0-9.]*\).*/\1/p" "$extdir/vector.control")"
    version_ok "$have" && return
    log "pgvector $have is installed but semrec needs $PGVECTOR_MIN or later: rebuilding"
  fi
  log "building pgvector from Debian's source package"
  local work; work="$(mktemp -d)"
  local mirror; mirror="$(machine_debian_mirror | head -n1)"
  local fallback=http://deb.debian.org/debian tried="$mirror"
  [ -n "$tried" ] || tried="the machine's apt sources (no bookworm mirror found)"
  if ! { [ -n "$mirror" ] && fetch_pgvector_source "$work" "$mirror"; }; then
    [ -n "$mirror" ] && log "pgvector source not found at $mirror; trying $fallback"
    fetch_pgvector_source "$work" "$fallback" ||
      die "could not fetch pgvector's source (trixie) from $tried nor from $fallback"
  fi
  local ver; ver="$(sed -n 's/^default_version = .\([0-9.]*\).*/\1/p' "$work/src/vector.control")"
  version_ok "$ver" || die "pgvector source version '$ver' is older than $PGVECTOR_MIN; refusing"
  make -s -C "$work/src" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
  as_root make -s -C "$work/src" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" install >/dev/null
  rm -rf "$work"
  log "pgvector $ver installed"
}

install_rust_targets() {
  command -v rustup >/dev/null || die "rustup not found: install Rust from https://rustup.rs first"
  rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
}

# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
install_wasm_bindgen() {
  local want; want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,"",$0); print; exit}' "$ROOT/Cargo.lock")"
  [ -n "$want" ] || die "wasm-bindgen not found in Cargo.lock"
  if [ -x "$TOOLS_DIR/bin/wasm-bindgen" ] && "$TOOLS_DIR/bin/wasm-bindgen" --version | grep -q " $want\$"; then return; fi
  log "installing wasm-bindgen-cli $want (a few minutes)"
  cargo install -q wasm-bindgen-cli --version "=$want" --root "$TOOLS_DIR" --target-dir "${CARGO_TARGET_DIR}/tools"
}

# Playwright's runner needs Node.js 20 or later, and Debian bookworm's nodejs is 18.
# The npm registry's `node` package carries the official binary: it goes beside
# the other tools, whose node_modules/.bin lib.sh puts first on PATH.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
install_node20() {
  [ "$(node_major)" -ge 20 ] && return
  log "Node.js $(node --version 2>/dev/null || echo "is missing"): installing node@20 from the npm registry"
  mkdir -p "$TOOLS_DIR"
  (cd "$TOOLS_DIR" && npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" node@20 >/dev/null)
  hash -r
  [ "$(node_major)" -ge 20 ] || die "Node.js 20 could not be installed from the npm registry"
}

# wasm-opt from npm's binaryen: Debian's older binaryen silently breaks hydration.
install_binaryen() {
  if [ ! -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ]; then
    log "installing binaryen (wasm-opt) from npm"
    mkdir -p "$TOOLS_DIR"
    (cd "$TOOLS_DIR" && npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" binaryen@132.0.0 >/dev/null)
  fi
}

# Playwright's runner lives in end2end/ with its own lockfile.
install_node_tools() {
  install_binaryen
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    log "installing Playwright test runner"
    (cd "$ROOT/end2end" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
}

if [ "$only_build_tools" -eq 1 ]; then
  install_rust_targets
  install_wasm_bindgen
  install_binaryen
  exit 0
fi
require_debian12
apt_install_missing
install_pgvector
[ "$only_system" -eq 1 ] && exit 0
install_rust_targets
install_wasm_bindgen
install_node20
install_node_tools
"$ROOT/scripts/fetch-model.sh"
"$ROOT/scripts/fetch-demo-data.sh"
