#!/bin/sh
# A member is healthy when a read through consensus answers: etcdctl's own
# `endpoint health`. Before the etcd-auth job has turned auth on, anonymously;
# after, as root (STAYLINE_ETCD_ROOT_PASSWORD in the container's environment).
etcdctl --endpoints=http://127.0.0.1:2379 endpoint health >/dev/null 2>&1 && exit 0
[ -n "${STAYLINE_ETCD_ROOT_PASSWORD:-}" ] || exit 1
exec etcdctl --endpoints=http://127.0.0.1:2379 --user="root:$STAYLINE_ETCD_ROOT_PASSWORD" \
  endpoint health >/dev/null 2>&1
