#!/usr/bin/env bash
# Copies the extra certificate authorities this machine trusts into
# infra/docker/extra-ca/, where the image builds pick them up (see the README
# there). Idempotent; prints how many it copied.
#   infra/docker/extra-ca.sh
#   STAYLINE_EXTRA_CA=/path/to/proxy-ca.pem infra/docker/extra-ca.sh
set -euo pipefail
dest="$(cd "$(dirname "$0")" && pwd)/extra-ca"
mkdir -p "$dest"
find "$dest" -maxdepth 1 -type f -name '*.crt' -delete
n=0
while IFS= read -r -d '' f; do
  cp "$f" "$dest/local-$(basename "$f")"
  n=$((n + 1))
done < <(find /usr/local/share/ca-certificates -type f -name '*.crt' -print0 2>/dev/null)
if [ -n "${STAYLINE_EXTRA_CA:-}" ]; then
  [ -r "$STAYLINE_EXTRA_CA" ] || { echo "[extra-ca] STAYLINE_EXTRA_CA=$STAYLINE_EXTRA_CA cannot be read" >&2; exit 1; }
  cp "$STAYLINE_EXTRA_CA" "$dest/extra.crt"
  n=$((n + 1))
fi
echo "[extra-ca] $n extra certificate authorit$([ $n -eq 1 ] && echo y || echo ies) for image builds in $dest" >&2
