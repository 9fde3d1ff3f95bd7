#!/usr/bin/env bash
# A Docker engine for the compose stack and its tests (docs/docker.md).
#
#   infra/docker/engine.sh start    an engine that answers `docker info`: the one
#                                   already running, or dockerd started here
#                                   (Debian's docker.io installed first when missing)
#   infra/docker/engine.sh stop     stops the engine only if `start` started it
#   infra/docker/engine.sh status   says which engine answers, and who started it
#
# The engine started here runs in the background with its state under
# /var/lib/docker (Debian's defaults), its log in $STATE_DIR/dockerd.log, and a
# marker file naming its pid: `stop` never touches an engine it did not start
# (Docker Desktop, a systemd docker.service, another user's daemon).
set -euo pipefail

STATE_DIR="${STAYLINE_ENGINE_STATE:-/run/stayline-engine}"
PID_FILE="$STATE_DIR/dockerd.pid"
LOG_FILE="$STATE_DIR/dockerd.log"
PACKAGES=(docker.io containerd runc iptables docker-compose)

say() { echo "[engine] $*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

started_here() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "$1 needs root. Run: sudo $0 start   (or as root: $0 start)"
    exit 1
  fi
}

install_missing() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v containerd >/dev/null 2>&1 || missing+=(containerd)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing[*]} and no apt-get here: install a Docker engine and docker-compose with your package manager"
    exit 1
  fi
  need_root "installing ${missing[*]}"
  say "installing Debian's ${missing[*]} (apt-get, about 15 s)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the package's own services are not used: this script starts the daemon itself
  systemctl disable --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true
}

start() {
  if engine_answers; then
    if started_here; then say "running (pid $(cat "$PID_FILE"), started by this script)"; else say "running (not started by this script; left alone)"; fi
    return 0
  fi
  need_root "starting dockerd"
  install_missing
  mkdir -p "$STATE_DIR"
  # a stale pid file from an engine that died: forget it
  rm -f "$PID_FILE"
  say "starting dockerd (log: $LOG_FILE)"
  # setsid: the daemon outlives the shell that started it, and a Ctrl-C there does not reach it
  setsid dockerd --pidfile "$STATE_DIR/dockerd.own.pid" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    if engine_answers; then
      say "ready: $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}')"
      return 0
    fi
    if ! started_here; then
      say "dockerd exited during start-up; the last lines of $LOG_FILE:"
      tail -n 15 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      exit 1
    fi
    sleep 0.5
  done
  say "dockerd did not answer within 60 s; the last lines of $LOG_FILE:"
  tail -n 15 "$LOG_FILE" >&2 || true
  stop
  exit 1
}

stop() {
  if ! started_here; then
    say "no engine started by this script is running; nothing stopped"
    rm -f "$PID_FILE"
    return 0
  fi
  local pid
  pid="$(cat "$PID_FILE")"
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "dockerd ignored SIGTERM for 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # containerd started by dockerd ends with it; one it could not stop is stopped here
  pkill -f "containerd --config /var/run/docker/containerd/containerd.toml" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() {
  if engine_answers; then
    if started_here; then echo "engine: running, started by $0 (pid $(cat "$PID_FILE"))"; else echo "engine: running (not started by this script)"; fi
  else
    echo "engine: not answering (start one: $0 start)"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
