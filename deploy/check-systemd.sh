#!/usr/bin/env bash
# Scores deploy/systemd/semrec.service with `systemd-analyze security --offline=true`
# and fails when the exposure is above 3.0 or when systemd ignored any line of the
# unit (an unknown key or a bad value is only a warning there, and an ignored
# hardening line would score as if it were absent). A control run on the unit with
# its hardening lines removed must score above 3.0, so the check can fail.
#   deploy/check-systemd.sh [unit-file]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
unit="${1:-$here/systemd/semrec.service}"
max=3.0

command -v systemd-analyze >/dev/null || { echo "FAIL systemd-analyze not found (apt install systemd)"; exit 1; }
work="$(mktemp -d /tmp/semrec-systemd.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Prints the overall exposure of a unit file; warnings go to $work/warnings.
score() {
  local out
  # The unit's name must end in .service; the copy keeps it.
  out="$(systemd-analyze security --offline=true --no-pager "$1" 2>"$work/warnings")" || true
  printf '%s\n' "$out" | sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}

exposure="$(score "$unit")"
if grep -E 'Unknown|Failed|ignoring|Invalid|not valid' "$work/warnings" >/dev/null; then
  echo "FAIL systemd ignored lines of $unit:"; cat "$work/warnings"; exit 1
fi
[ -n "$exposure" ] || { echo "FAIL no exposure level in systemd-analyze's output for $unit"; cat "$work/warnings"; exit 1; }

# Control: the same unit without its hardening section scores above the bar.
mkdir -p "$work/control"
sed '/^# ── Hardening/,/^\[Install\]/{/^\[Install\]/!d}' "$unit" >"$work/control/semrec.service"
control="$(score "$work/control/semrec.service")"
if [ -z "$control" ] || awk -v c="$control" -v m="$max" 'BEGIN { exit !(c <= m) }'; then
  echo "FAIL control: the unit without its hardening scored '${control:-nothing}', not above $max: the check cannot fail"
  exit 1
fi

if awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e <= m) }'; then
  echo "PASS systemd unit exposure $exposure (at most $max; $control without the hardening lines)"
else
  echo "FAIL systemd unit exposure $exposure is above $max:"
  systemd-analyze security --offline=true --no-pager "$unit" 2>/dev/null | grep '✗' || true
  exit 1
fi
