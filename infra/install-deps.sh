#!/usr/bin/env bash
# Installs the system packages the native stack and the tests run (Debian/Ubuntu).
# Idempotent: installs only what is missing. Run as root or with sudo.
set -euo pipefail

declare -A PACKAGES=(
  [mariadbd]=mariadb-server
  [redis-server]=redis-server
  [redis-sentinel]=redis-sentinel
  [nginx]=nginx
  [etcd]=etcd-server
  [dnsmasq]=dnsmasq-base
  [docker-compose]=docker-compose
  [chromium]=chromium
  [promtool]=prometheus
)

missing=()
for bin in "${!PACKAGES[@]}"; do
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ] && [ ! -x "/usr/bin/$bin" ]; then
    missing+=("${PACKAGES[$bin]}")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]} (no apt-get here: install them with your package manager)" >&2
  exit 1
fi
# as root (a container, CI) apt-get runs as is: no sudo needed, nor always there
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "missing: ${missing[*]}; no sudo here: run this as root (su -c 'bash $0')" >&2
    exit 1
  fi
  SUDO=sudo
fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# the packages' own services are not used: the stack runs its own processes
for svc in mariadb redis-server redis-sentinel nginx etcd prometheus; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
