"""Render the app icon's PNG sizes from its SVG (run after editing the SVG, then commit both).

    QT_QPA_PLATFORM=offscreen python resources/render_app_icon.py

The PNGs are checked in next to the SVG (halgui/resources/app/) because a window manager, the
freedesktop icon theme, PyInstaller's Windows/macOS icon conversion and Qt without its SVG plugin
all want bitmaps; the SVG stays the source.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QGuiApplication, QImage, QPainter, Qt
from PySide6.QtSvg import QSvgRenderer

APP = Path(__file__).resolve().parents[1] / "halgui" / "resources" / "app"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(APP / "halgui.svg"))
    if not renderer.isValid():
        print(f"{APP / 'halgui.svg'}: not a valid SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        out = APP / f"halgui-{size}.png"
        if not image.save(str(out)):
            print(f"{out}: could not write", file=sys.stderr)
            return 1
        print(out.relative_to(APP.parents[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
