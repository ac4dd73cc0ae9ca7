#!/usr/bin/env bash
# Fetches Debian's nginx package with this machine's apt sources and unpacks it into
# the tools cache, without installing it: installing the package would start and
# enable a system nginx on port 80, and the reverse-proxy test
# (deploy/check-nginx.sh) only needs the binary, run with its own configuration.
# Prints the path of the nginx binary. Idempotent.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dest="$(cache_dir)/nginx"
bin="$dest/root/usr/sbin/nginx"
if [ -x "$bin" ] && "$bin" -v 2>/dev/null; then
  echo "$bin"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get -o APT::Sandbox::User=root download -qq nginx >/dev/null 2>&1); }
if ! download; then
  log "nginx not in the package lists: apt-get update"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  download || die "apt-get download nginx failed with this machine's apt sources"
fi
deb="$(ls "$work"/nginx_*.deb)"
log "unpacking $(basename "$deb") into $dest"
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest/root"
# The package's dependencies are ordinary bookworm libraries (libssl3, libpcre2-8-0,
# zlib1g, libcrypt1); name any that is missing rather than fail at run time.
missing="$(ldd "$bin" | awk '/not found/ { print $1 }' | tr '\n' ' ')"
[ -z "$missing" ] || die "nginx needs libraries this machine lacks: $missing(apt-get install libssl3 libpcre2-8-0 zlib1g libcrypt1)"
"$bin" -v 2>/dev/null || die "the unpacked nginx does not run"
echo "$bin"
