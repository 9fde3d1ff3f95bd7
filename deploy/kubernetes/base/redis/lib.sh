# What the Redis and Sentinel start scripts share: where the current primary is.
# Addresses are IPv4, as Sentinel knows them (the image's template: resolve-hostnames no).
: "${POD_NAME:?POD_NAME (this pod's name) is required}"
: "${POD_IP:?POD_IP (this pod's address) is required}"
: "${REDIS_PEERS:?REDIS_PEERS (the Redis pods, by name) is required}"
: "${REDIS_SENTINELS:?REDIS_SENTINELS (host:port,...) is required}"
MASTER_NAME=${REDIS_MASTER_NAME:-stayline}

say() { echo "$(basename "$0"): $*" >&2; }
# as the admin, the password from REDISCLI_AUTH (the default user is off)
cli() { timeout 2 redis-cli --user stayline-admin "$@" 2>/dev/null; }
is_ipv4() { case "$1" in '' | *[!0-9.]*) return 1 ;; *) return 0 ;; esac; }
# a name's IPv4 address, from the cluster's DNS
address() {
  set -- $(getent hosts "$1") ''
  is_ipv4 "$1" && echo "$1"
}

# The primary the first Sentinel that knows one names (this pod's own Sentinel excluded).
sentinels_primary() {
  for s in $(echo "$REDIS_SENTINELS" | tr ',' ' '); do
    [ "${s%%.*}" = "$POD_NAME" ] && continue
    ip=$(cli -h "${s%:*}" -p "${s##*:}" sentinel get-master-addr-by-name "$MASTER_NAME" | head -n 1)
    is_ipv4 "$ip" && echo "$ip" && return 0
  done
  return 1
}

is_primary() { [ "$(cli -h "$1" -p 6379 role | head -n 1)" = master ]; }

# A peer that already is a primary (a failover the Sentinels took part in may have made one).
peer_primary() {
  for peer in $(echo "$REDIS_PEERS" | tr ',' ' '); do
    [ "${peer%%.*}" = "$POD_NAME" ] && continue
    ip=$(address "$peer") || continue
    is_primary "$ip" && echo "$ip" && return 0
  done
  return 1
}
