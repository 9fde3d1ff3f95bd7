#!/usr/bin/env bash
# The Debian bookworm base every stayline image starts FROM (docs/docker.md).
#
#   infra/docker/base-image.sh          prints the base image to build on
#
# Where Docker Hub answers, that is the ordinary `debian:bookworm-slim`, pulled
# as usual. Where it does not (an offline or air-gapped engine), the same
# release is made here from Debian's own packages, once per engine, and kept
# as `stayline/debian:bookworm`: `debootstrap --variant=minbase` from the
# mirror this machine's apt already uses, trimmed like the slim image
# (no docs, man pages or locales, also for what images install later), then
# `docker import`. Progress goes to stderr; stdout is the image name alone, so
#   STAYLINE_BASE_IMAGE=$(infra/docker/base-image.sh) docker-compose build
set -euo pipefail

OFFICIAL="${STAYLINE_OFFICIAL_BASE:-debian:bookworm-slim}"
LOCAL="stayline/debian:bookworm"
SUITE=bookworm

say() { echo "[base-image] $*" >&2; }

if docker image inspect "$OFFICIAL" >/dev/null 2>&1; then
  echo "$OFFICIAL"
  exit 0
fi
if docker image inspect "$LOCAL" >/dev/null 2>&1; then
  say "using $LOCAL (made earlier from Debian's packages)"
  echo "$LOCAL"
  exit 0
fi
say "pulling $OFFICIAL"
if timeout 60 docker pull -q "$OFFICIAL" >/dev/null 2>&1; then
  echo "$OFFICIAL"
  exit 0
fi

say "$OFFICIAL cannot be pulled here: making $LOCAL from Debian's packages (debootstrap, about a minute)"
if [ "$(id -u)" -ne 0 ]; then
  say "debootstrap needs root. Run: sudo $0"
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing Debian's debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# the mirror this machine's apt uses (deb822 sources first, then the classic list)
mirror="$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)"
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\(http[^[:space:]]*\/debian\)\/*[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1 || true)"
fi
mirror="${STAYLINE_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}"

root="$(mktemp -d /var/tmp/stayline-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
say "debootstrap --variant=minbase $SUITE from $mirror"
if ! debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
  say "debootstrap failed; the last lines of its log:"
  tail -n 15 "$root.log" >&2
  rm -f "$root.log"
  exit 1
fi
rm -f "$root.log"

# what the slim image leaves out, now and in every later apt-get install
cat >"$root/etc/dpkg/dpkg.cfg.d/stayline-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
cat >"$root/etc/apt/apt.conf.d/stayline-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Keep-Downloaded-Packages "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
# the same sources a container's apt-get reads: the mirror used here
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$SUITE" "$mirror" "$SUITE" >"$root/etc/apt/sources.list"

tar --numeric-owner -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' \
  - "$LOCAL" >/dev/null
say "made $LOCAL ($(docker image inspect "$LOCAL" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$LOCAL"
