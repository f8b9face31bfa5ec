#!/usr/bin/env bash
# Add (or with --remove, take away) halgui in the desktop's app menu for this user: the
# freedesktop entry, the app icon in the hicolor theme, the AppStream metadata. Run it from
# the unpacked app folder; the entry starts the halgui executable next to this script.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ID=io.github.halgui.halgui
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
ICONS=$HERE/_internal/halgui/resources/app

if [ "${1:-}" = --remove ]; then
    rm -f "$DATA/applications/$ID.desktop" "$DATA/metainfo/$ID.metainfo.xml"
    rm -f "$DATA"/icons/hicolor/*/apps/$ID.png "$DATA/icons/hicolor/scalable/apps/$ID.svg"
    echo "removed halgui from the app menu"
    exit 0
fi
[ -x "$HERE/halgui" ] || { echo "run this from the unpacked halgui folder" >&2; exit 1; }

mkdir -p "$DATA/applications" "$DATA/metainfo" "$DATA/icons/hicolor/scalable/apps"
for png in "$ICONS"/halgui-*.png; do
    size=$(basename "$png" .png); size=${size#halgui-}
    mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$DATA/icons/hicolor/${size}x${size}/apps/$ID.png"
done
cp "$ICONS/halgui.svg" "$DATA/icons/hicolor/scalable/apps/$ID.svg"
sed "s|^Exec=halgui |Exec=\"$HERE/halgui\" |" "$HERE/$ID.desktop" > "$DATA/applications/$ID.desktop"
cp "$HERE/$ID.metainfo.xml" "$DATA/metainfo/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
echo "halgui is in the app menu (undo: $0 --remove)"
