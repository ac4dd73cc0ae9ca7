#!/usr/bin/env bash
# Runs deploy/Containerfile's build and run steps without a container engine
# (images can neither be pulled nor built on the development machine): a Debian
# bookworm root made with debootstrap from this machine's apt mirror, each stage
# a copy of it, each RUN in a chroot (deploy/image_steps.py), then the image's
# command as its non-root user against a throwaway PostgreSQL with pgvector on
# loopback, until its HEALTHCHECK gets 200 from /api/v1/health/ready.
# Heavy (a cold release build inside the chroot: 74 min on 2 busy cores), so not part of
# scripts/test.sh. Needs root (debootstrap, chroot, mounts). Run at nice 19.
#   deploy/check-image-steps.sh
# IMAGE_STEPS_TIMEOUT (seconds, default 7200) bounds the run. The debootstrap root
# and the RUN cache mounts (cargo registry, target) are kept in the cache folder
# (image-steps/), so a second run rebuilds only what changed.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
[ "$(id -u)" -eq 0 ] || die "deploy/check-image-steps.sh needs root (debootstrap, chroot, mount)"
debootstrap="$(command -v debootstrap || echo /usr/sbin/debootstrap)"
[ -x "$debootstrap" ] || die "debootstrap not found (apt-get install debootstrap)"
limit="${IMAGE_STEPS_TIMEOUT:-7200}"

cache="$(cache_dir)/image-steps"
base="$cache/bookworm-minbase"
mkdir -p "$cache"
mirror="$(machine_debian_mirror | head -n1)"
[ -n "$mirror" ] || die "no bookworm mirror in this machine's apt sources"
if [ ! -f "$base/.complete" ] || [ "$(cat "$base/.complete")" != "$mirror" ]; then
  log "debootstrap bookworm (minbase) from $mirror into $base (a few minutes, once)"
  rm -rf "$base" "$base.partial"
  "$debootstrap" --variant=minbase bookworm "$base.partial" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  echo "$mirror" >"$base.partial/.complete"
  mv "$base.partial" "$base"
fi

work="$(mktemp -d "$cache/run.XXXXXX")"
chmod 755 "$work"
runner=""
pgdata="$work/pg"
cleanup() {
  local status=$?
  [ -n "$runner" ] && kill -TERM "$runner" 2>/dev/null && sleep 5
  # The server inside the chroot, if the driver could not end it (by pid, only
  # while that pid is still our binary in this run's root).
  if [ -f "$work/server.pid" ]; then
    pid="$(cat "$work/server.pid")"
    case "$(readlink "/proc/$pid/exe" 2>/dev/null)" in
      "$work"/*/usr/local/bin/semrec) kill -KILL "$pid" 2>/dev/null || true ;;
    esac
  fi
  [ -f "$pgdata/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    log "server log (last 30 lines):"; tail -30 "$work/server.log" >&2
  fi
  [ "${IMAGE_STEPS_KEEP:-0}" = 1 ] && log "kept $work" || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The compose file's pgvector PostgreSQL, played by this machine's PostgreSQL 15
# with pgvector (scripts/setup.sh), in a throwaway cluster on loopback.
pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir "$pgdata" && chown postgres "$pgdata"
runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdata" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pgdata/log" -w \
  -o "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "create database semrec"

started=$(date +%s)
timeout --signal=TERM --kill-after=30 "$limit" nice -n 19 python3 "$ROOT/deploy/image_steps.py" \
  "$base" "$work" "$cache" "postgres://postgres@127.0.0.1:$pg_port/semrec" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
[ "$status" -eq 124 ] && log "FAIL stopped after $limit s"
log "check-image-steps.sh took $(( $(date +%s) - started )) s"
exit "$status"
