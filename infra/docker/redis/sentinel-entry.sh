#!/bin/sh
# A Sentinel on a fresh configuration at every start: Sentinel rewrites its file
# as it learns, so an old copy would bring back a stale view of the topology.
# SENTINEL_ANNOUNCE_IP is the address it announces (its container's), and
# REDIS_PRIMARY_IP the primary it first monitors; both are IPv4 addresses. Its
# ACL users and logins come from /etc/stayline/auth/sentinel-auth.conf.
set -eu
: "${SENTINEL_ANNOUNCE_IP:?SENTINEL_ANNOUNCE_IP (the address this Sentinel announces) is required}"
: "${REDIS_PRIMARY_IP:?REDIS_PRIMARY_IP (the address of the first Redis primary) is required}"
for ip in "$SENTINEL_ANNOUNCE_IP" "$REDIS_PRIMARY_IP"; do
  case "$ip" in
    *[!0-9.]* | "") echo "stayline-sentinel: '$ip' is not an IPv4 address" >&2; exit 1 ;;
  esac
done
# its users and logins (the redis-auth job renders them from libs/contracts redis-acl.ts):
# the file holds passwords, so it is the redis user's alone
AUTH=/etc/stayline/auth/sentinel-auth.conf
[ -r "$AUTH" ] || { echo "stayline-sentinel: $AUTH (written by the redis-auth job) is missing" >&2; exit 1; }
umask 077
rm -f /data/sentinel.conf
sed -e "s/{{ANNOUNCE_IP}}/$SENTINEL_ANNOUNCE_IP/" -e "s/{{PRIMARY_IP}}/$REDIS_PRIMARY_IP/" \
  /etc/stayline/sentinel.conf.template >/data/sentinel.conf
cat "$AUTH" >>/data/sentinel.conf
exec redis-sentinel /data/sentinel.conf
