#!/usr/bin/env bash
# Build halgui as a one-folder app for this OS, check what went in, and pack it.
#
#   packaging/build.sh                 # -> dist/halgui/ and dist/halgui-<version>-<os>-<arch>.tar.gz
#
# A venv of its own (runtime dependencies + pyinstaller only, no test or dev tools) is made
# at $HALGUI_BUILD_VENV (default build/packaging-venv) or reused. Environment:
#   PYTHON            the Python that makes the venv (default python3; 3.10+)
#   TORCH_SPEC        what to install for torch, first (default torch==2.13.0)
#   TORCH_INDEX_URL   where from, e.g. https://download.pytorch.org/whl/cpu for a CPU-only app
#                     (on Linux, plain PyPI gives the CUDA build: a several-GB app)
#   NO_ARCHIVE=1      leave dist/halgui/ unpacked only
# Linux is what this script is tested on; Windows (Git Bash) and macOS are in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${HALGUI_BUILD_VENV:-build/packaging-venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -d "$VENV" ]; then
    echo "== venv $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
fi
BIN=$VENV/bin
[ -d "$VENV/Scripts" ] && BIN=$VENV/Scripts  # Windows
PY=$BIN/python

SECONDS=0
echo "== runtime dependencies + pyinstaller (torch first: ${TORCH_SPEC:-torch==2.13.0})"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "${TORCH_SPEC:-torch==2.13.0}"
"$PY" -m pip install -q ".[packaging]"
"$PY" -m pip install -q --no-deps --force-reinstall .  # this checkout, even at the same version
for tool in pytest pytest-qt hypothesis ruff import-linter; do
    if "$PY" -m pip show -q "$tool" >/dev/null 2>&1; then
        echo "warning: $tool is installed in $VENV; the spec excludes it from the app" >&2
    fi
done
VERSION=$("$PY" -I -c 'from importlib.metadata import version; print(version("halgui"))')
pip_s=$SECONDS

echo "== pyinstaller (halgui $VERSION)"
SECONDS=0
# the pyinstaller command, not "python -m": that would put the checkout (and a stale
# halgui.egg-info in it) on sys.path ahead of the installed halgui
"$BIN/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/halgui.spec
build_s=$SECONDS

case "$(uname -s)" in
    Linux*) OS=linux; APPDIR=dist/halgui; INTERNAL=$APPDIR/_internal ;;
    Darwin*) OS=macos; APPDIR=dist/halgui.app; INTERNAL=$APPDIR/Contents/Frameworks ;;
    MINGW*|MSYS*|CYGWIN*) OS=windows; APPDIR=dist/halgui; INTERNAL=$APPDIR/_internal ;;
    *) echo "unknown OS $(uname -s)" >&2; exit 1 ;;
esac

echo "== what the app must hold"
missing=0
need() {  # need DESCRIPTION GLOB...: at least one file matches
    local what=$1; shift
    if ! compgen -G "$1" >/dev/null; then
        echo "missing: $what ($1)" >&2; missing=1
    fi
}
QT=$INTERNAL/PySide6/Qt/plugins
[ "$OS" = windows ] && QT=$INTERNAL/PySide6/plugins
need "halgui resources: app icon" "$INTERNAL/halgui/resources/app/halgui-256.png"
need "halgui resources: toolbar icons" "$INTERNAL/halgui/resources/icons/play.svg"
need "halgui metadata (--version)" "$INTERNAL/halgui-*.dist-info"
need "torch libraries" "$INTERNAL/torch/lib/*torch_cpu*"
need "OpenCV" "$INTERNAL/cv2"
need "PyAV" "$INTERNAL/av"
need "Qt image formats (SVG)" "$QT/imageformats/*qsvg*"
need "Qt icon engine (SVG)" "$QT/iconengines/*qsvgicon*"
need "Qt platform: offscreen" "$QT/platforms/*qoffscreen*"
[ "$OS" = linux ] && need "Qt platform: xcb" "$QT/platforms/*qxcb*"
for dev in pytest _pytest pytestqt hypothesis ruff importlinter PyInstaller torch/test; do
    if [ -e "$INTERNAL/$dev" ]; then echo "must not be in the app: $dev" >&2; missing=1; fi
done
[ "$missing" = 0 ] || { echo "the app is incomplete" >&2; exit 1; }

if [ "$OS" = linux ]; then  # desktop integration, for packaging/install-desktop-entry.sh
    cp resources/io.github.halgui.halgui.desktop resources/io.github.halgui.halgui.metainfo.xml \
        packaging/install-desktop-entry.sh "$APPDIR/"
fi
[ "$OS" = macos ] || cp packaging/APP_README.txt "$APPDIR/README.txt"

size=$(du -sh "$APPDIR" | cut -f1)
archive=""
SECONDS=0
if [ "${NO_ARCHIVE:-0}" != 1 ]; then
    echo "== archive"
    arch=$(uname -m)
    case "$OS" in
        linux) archive=dist/halgui-$VERSION-linux-$arch.tar.gz
               tar -C dist -czf "$archive" halgui ;;
        macos) archive=dist/halgui-$VERSION-macos-$arch.zip
               ditto -c -k --keepParent "$APPDIR" "$archive" ;;
        windows) archive=dist/halgui-$VERSION-windows-$arch.zip
                 "$PY" -m zipfile -c "$archive" "$APPDIR" ;;
    esac
fi

archive_s=$SECONDS

echo "== done"
echo "app:          $ROOT/$APPDIR ($size)"
[ -n "$archive" ] && echo "archive:      $ROOT/$archive ($(du -h "$archive" | cut -f1))"
echo "seconds:      pip ${pip_s}, pyinstaller ${build_s}, archive ${archive_s}"
echo "smoke test:   packaging/smoke_test.sh $APPDIR"
