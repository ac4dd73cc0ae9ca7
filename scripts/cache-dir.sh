#!/usr/bin/env bash
# Prints the folder for caches kept across clones (cargo target, tools, bench venv):
# /var/cache/semrec when it exists or can be created and is writable (root, or a
# prepared folder), else the user's cache folder (~/.cache/semrec).
set -euo pipefail
sys=/var/cache/semrec
if mkdir -p "$sys" 2>/dev/null && [ -w "$sys" ]; then
  echo "$sys"
else
  user="${XDG_CACHE_HOME:-$HOME/.cache}/semrec"
  mkdir -p "$user"
  echo "$user"
fi
