#!/bin/sh
# A Redis node of the stayline StatefulSet (redis-0, redis-1), with the arguments the
# compose file gives its Redis nodes. Redis keeps nothing on disk, so a restarted node is
# empty and must never come back as the primary (its replica would copy the empty data
# set). Where it starts from, first match:
#   1. the Sentinels name another node, which answers as the primary: it replicates it;
#   2. they name this very node (it was the primary and restarted): it waits until they
#      have promoted its replica (1 s of silence and a vote), then does 1;
#   3. no Sentinel knows (the cluster's first start): a peer that is a primary already,
#      else redis-0 starts as the primary and the others wait for it.
set -eu
. "$(dirname "$0")/lib.sh"
FIRST_PRIMARY=${REDIS_FIRST_PRIMARY:-redis-0}

# aclfile, masteruser and masterauth: the redis-auth initContainer wrote them
AUTH=/etc/stayline/auth/redis.conf
[ -r "$AUTH" ] || { say "$AUTH (written by the redis-auth initContainer) is missing"; exit 1; }

start() {
  exec redis-server "$AUTH" --save '' --appendonly no --protected-mode no \
    --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
    --replica-announce-ip "$POD_IP" "$@"
}

while :; do
  if primary=$(sentinels_primary); then
    if [ "$primary" = "$POD_IP" ]; then
      say "the Sentinels still name this node ($POD_IP), restarted empty: waiting for a failover"
    elif is_primary "$primary"; then
      say "replicating $primary, the primary the Sentinels name"
      start --replicaof "$primary" 6379
    else
      say "the Sentinels name $primary, which does not answer as a primary: waiting"
    fi
  elif primary=$(peer_primary); then
    say "no Sentinel knows a primary; replicating $primary, a peer that is one"
    start --replicaof "$primary" 6379
  elif [ "$POD_NAME" = "$FIRST_PRIMARY" ]; then
    say "no Sentinel knows a primary and no peer is one: starting as the first primary"
    start
  else
    say "no Sentinel knows a primary and no peer is one: waiting for $FIRST_PRIMARY"
  fi
  sleep 1
done
