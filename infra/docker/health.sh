#!/bin/bash
# A container healthcheck that costs a few milliseconds: one HTTP/1.0 GET over
# bash's /dev/tcp, healthy on a 2xx status (a Node one-liner started a whole
# runtime every few seconds in every container: on two cores, that alone made
# healthchecks time out).
#   stayline-health PORT PATH [PORT PATH ...]    every one must answer 2xx
set -u
while [ $# -ge 2 ]; do
  port=$1 path=$2
  shift 2
  exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
  IFS= read -r -t 2 status <&3 || exit 1
  exec 3<&-
  case "$status" in
    HTTP/1.[01]\ 2*) ;;
    *) echo "127.0.0.1:$port$path: ${status%$'\r'}" >&2; exit 1 ;;
  esac
done
