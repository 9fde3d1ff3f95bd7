#!/bin/sh
# A Sentinel on a fresh configuration at every start: Sentinel rewrites its file
# as it learns, so an old copy would bring back a stale view of the topology.
# SENTINEL_HOST is the name it announces (its container's).
set -eu
: "${SENTINEL_HOST:?SENTINEL_HOST (the name this Sentinel announces) is required}"
sed "s/{{ANNOUNCE_HOST}}/$SENTINEL_HOST/" /etc/stayline/sentinel.conf.template >/data/sentinel.conf
exec redis-sentinel /data/sentinel.conf
