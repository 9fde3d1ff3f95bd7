#!/bin/sh
# A Sentinel of the stayline StatefulSet (sentinel-0..2): a fresh configuration at every
# start from the image's template (infra/docker/redis/sentinel.conf.template, as the
# compose stack's stayline-sentinel writes it), announcing this pod's address and
# monitoring the current primary: the one the other Sentinels name, else a Redis pod that
# is one. Plus a stable id: a Sentinel restarted on a new address replaces its old entry
# in the others' tables instead of adding one, which would count against every vote.
set -eu
. "$(dirname "$0")/lib.sh"
TEMPLATE=/etc/stayline/sentinel.conf.template
CONF=/data/sentinel.conf
# its users and its logins to the data nodes and the other Sentinels (the redis-auth
# initContainer renders them from libs/contracts redis-acl.ts); they hold passwords
AUTH=/etc/stayline/auth/sentinel-auth.conf
[ -r "$AUTH" ] || { say "$AUTH (written by the redis-auth initContainer) is missing"; exit 1; }

until primary=$(sentinels_primary) || primary=$(peer_primary); do
  say "no primary yet (neither another Sentinel nor a Redis pod names one): waiting"
  sleep 1
done
is_ipv4 "$POD_IP" || { say "'$POD_IP' is not an IPv4 address"; exit 1; }
say "monitoring $primary, announcing $POD_IP"
umask 077
rm -f "$CONF"
sed -e "s/{{ANNOUNCE_IP}}/$POD_IP/" -e "s/{{PRIMARY_IP}}/$primary/" "$TEMPLATE" >"$CONF"
echo "sentinel myid $(printf '%s' "$POD_NAME" | sha1sum | cut -c1-40)" >>"$CONF"
cat "$AUTH" >>"$CONF"
exec redis-sentinel "$CONF"
