#!/usr/bin/env bash
# Start or stop a Docker engine for the stack (`make dockerd`, `make dockerd-stop`; `make test-stack`
# stops the one it started). `start` does nothing if an engine already answers; `stop` stops only
# an engine this script started (its pid in var/docker/dockerd.pid).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=var/docker
pidfile=$dir/dockerd.pid
case "${1:-start}" in
start)
    if docker info >/dev/null 2>&1; then exit 0; fi
    [ "$(id -u)" = 0 ] || { echo "no Docker engine answers; start one (dockerd runs as root)" >&2; exit 1; }
    mkdir -p "$dir"
    setsid dockerd >"$dir/dockerd.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 60); do
        if docker info >/dev/null 2>&1; then echo "dockerd started (pid $(cat "$pidfile"), log $dir/dockerd.log)"; exit 0; fi
        sleep 1
    done
    echo "dockerd did not answer in 60 s:" >&2; tail -20 "$dir/dockerd.log" >&2; exit 1
    ;;
stop)
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        echo "dockerd (pid $pid) stopped"
    fi
    rm -f "$pidfile"
    ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
