#!/usr/bin/env bash
# Time from launch to a visible halgui window, on the X display in $DISPLAY (run it under
# xvfb-run or on a desktop). Needs xdotool.
#
#   packaging/time_to_window.sh [--runs N] [--keep] -- COMMAND [ARG...]
#   xvfb-run -a -s "-screen 0 1440x900x24" packaging/time_to_window.sh -- dist/halgui/halgui open DIR
#
# Each run starts COMMAND with settings in a fresh temporary HOME, polls every 10 ms, prints
# "mapped S" (a visible window named halgui exists) and "project S" (its title names the
# project: "<folder> - halgui", the project is open), then quits the app (Ctrl+Q). --keep leaves the
# last run's app running and prints its window id and pid (for screenshots).
set -euo pipefail
runs=1 keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--runs N] [--keep] -- COMMAND [ARG...]" >&2; exit 2; }
command -v xdotool >/dev/null || { echo "needs xdotool (apt-get install xdotool)" >&2; exit 2; }
[ -n "${DISPLAY:-}" ] || { echo "needs an X display (DISPLAY is empty)" >&2; exit 2; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

for run in $(seq "$runs"); do
    home=$(mktemp -d)
    mkdir -m 700 "$home/runtime"
    start=$(now)
    HOME=$home XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data \
        XDG_RUNTIME_DIR=$home/runtime QT_QPA_PLATFORM=xcb "$@" >"$home/log" 2>&1 &
    pid=$!
    mapped="" project="" win=""
    deadline=$(( $(date +%s) + 60 ))
    while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
        if [ -z "$mapped" ]; then
            win=$(xdotool search --onlyvisible --name 'halgui' 2>/dev/null | head -1 || true)
            [ -n "$win" ] && mapped=$(elapsed "$start")
        fi
        if [ -n "$win" ] && xdotool getwindowname "$win" 2>/dev/null | grep -q ' - halgui$'; then
            project=$(elapsed "$start")
            break
        fi
        sleep 0.01
    done
    echo "run $run: mapped ${mapped:-never} project ${project:-never}"
    if [ -z "$project" ]; then
        echo "--- the app's output:" >&2; cat "$home/log" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    if [ "$keep" = 1 ] && [ "$run" = "$runs" ]; then
        echo "window $win pid $pid home $home"
        exit 0
    fi
    xdotool windowfocus "$win" key ctrl+q 2>/dev/null || true  # File > Quit
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$home"
done
