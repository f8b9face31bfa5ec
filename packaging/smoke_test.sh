#!/usr/bin/env bash
# Smoke test of the built app (Linux): the headless commands, the GUI offscreen, and the GUI
# in a real X window on Xvfb with a screenshot in artifacts/smoke_app.png.
#
#   packaging/smoke_test.sh [--retrain] [APP_DIR]   (default dist/halgui, as build.sh makes it)
#
# --retrain also starts a round from the window (Ctrl+R: training in a spawned child process of
# the frozen app) and waits for it to be saved: about 1.5 minutes more on 2 cores.
#
# Needs xvfb-run (apt xvfb xauth), xdotool, xprop (x11-utils) and import (imagemagick), and
# Qt's X11 libraries (libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0).
# Exit status 0 only if every step passed.
set -euo pipefail
cd "$(dirname "$0")/.."
RETRAIN=0
if [ "${1:-}" = --retrain ]; then RETRAIN=1; shift; fi
APPDIR=${1:-dist/halgui}
EXE=$APPDIR/halgui
[ -x "$EXE" ] || { echo "no app at $EXE (run packaging/build.sh first)" >&2; exit 2; }

if [ "${HALGUI_SMOKE_IN_XVFB:-}" != 1 ]; then  # everything below runs on its own X display
    command -v xvfb-run >/dev/null || { echo "needs xvfb-run (apt-get install xvfb xauth)" >&2; exit 2; }
    args=("$APPDIR"); [ "$RETRAIN" = 1 ] && args=(--retrain "$APPDIR")
    HALGUI_SMOKE_IN_XVFB=1 exec xvfb-run -a -s "-screen 0 1440x900x24" "$0" "${args[@]}"
fi
for tool in xdotool xprop import; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

mkdir -p artifacts
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/config XDG_DATA_HOME=$TMP/home/data \
    XDG_RUNTIME_DIR=$TMP/runtime
mkdir -p "$HOME" && mkdir -m 700 "$XDG_RUNTIME_DIR"
step() { echo "== $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

step "--version"
version=$("$EXE" --version)
echo "$version"
[[ $version =~ ^halgui\ [0-9]+\.[0-9]+ ]] || fail "unexpected --version: $version"
[[ $version != *unknown* ]] || fail "the app has no halgui metadata: $version"

step "demo --no-gui"
start=$(date +%s.%N)
"$EXE" demo --no-gui "$TMP/demo"
echo "took $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
[ -f "$TMP/demo/project.halgui" ] || fail "demo made no project.halgui"

step "info --json"
"$EXE" info "$TMP/demo" --json | tee "$TMP/info.json"
grep -Eq '"videos": [1-9]' "$TMP/info.json" || fail "info reports no videos"
grep -Eq '"proposals": [1-9]' "$TMP/info.json" || fail "info reports no proposals"

step "GUI offscreen (the offscreen platform plugin loads, the app stays up)"
QT_QPA_PLATFORM=offscreen "$EXE" open "$TMP/demo" >"$TMP/offscreen.log" 2>&1 &
pid=$!
sleep 8
kill -0 "$pid" 2>/dev/null || { cat "$TMP/offscreen.log" >&2; fail "the app exited offscreen"; }
kill "$pid"; wait "$pid" 2>/dev/null || true
! grep -q "qt.qpa.plugin" "$TMP/offscreen.log" || { cat "$TMP/offscreen.log" >&2; fail "Qt plugin error"; }

step "GUI on X11 (Xvfb $DISPLAY): window, app icon, screenshot, quit"
start=$(date +%s.%N)
QT_QPA_PLATFORM=xcb "$EXE" open "$TMP/demo" >"$TMP/xcb.log" 2>&1 &
pid=$!
win=""
for _ in $(seq 3000); do  # up to 60 s: the window named after the project ("demo - halgui")
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/xcb.log" >&2; fail "the app exited"; }
    win=$(xdotool search --onlyvisible --name '^demo - halgui$' 2>/dev/null | head -1 || true)
    [ -n "$win" ] && break
    sleep 0.02
done
[ -n "$win" ] || { kill "$pid"; cat "$TMP/xcb.log" >&2; fail "no window in 60 s"; }
echo "project window up after $(awk -v a="$start" -v b="$(date +%s.%N)" \
    'BEGIN { printf "%.2f", b - a }') s (first launch; packaging/time_to_window.sh for timings)"
sleep 2  # let the canvas paint the first frame
import -window root artifacts/smoke_app.png
echo "screenshot: artifacts/smoke_app.png"
icons=$(xprop -id "$win" _NET_WM_ICON | grep -o "Icon ([0-9]* x [0-9]*)" | tr '\n' ' ' || true)
[ -n "$icons" ] || fail "the window has no icon (halgui/resources not found in the app?)"
echo "window icon: $icons"
if [ "$RETRAIN" = 1 ]; then
    rounds() { "$EXE" info "$TMP/demo" --json | grep -o '"rounds": [0-9]*' | grep -o '[0-9]*$'; }
    before=$(rounds)
    xdotool windowfocus "$win" key ctrl+r  # Model > Retrain
    start=$(date +%s)
    sleep 5
    import -window root artifacts/smoke_retrain.png  # the progress bar in the status bar
    until [ "$(rounds)" -gt "$before" ]; do
        kill -0 "$pid" 2>/dev/null || { cat "$TMP/xcb.log" >&2; fail "the app exited"; }
        [ $(( $(date +%s) - start )) -lt 600 ] || fail "no new round after 600 s"
        sleep 2
    done
    echo "round $(rounds) saved $(( $(date +%s) - start )) s after Ctrl+R"
    sleep 5  # the child finishes, the window shows the proposals
fi
xdotool windowfocus "$win" key ctrl+q  # File > Quit
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill "$pid"; fail "Ctrl+Q did not quit the app"; fi
status=0
wait "$pid" || status=$?
[ "$status" = 0 ] || { cat "$TMP/xcb.log" >&2; fail "the app exited with status $status"; }
if grep -q "Traceback" "$TMP/xcb.log"; then cat "$TMP/xcb.log" >&2; fail "a traceback"; fi

echo "== smoke test passed: $APPDIR"
