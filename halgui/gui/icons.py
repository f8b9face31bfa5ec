"""Toolbar icons and the app icon, read from the package data with importlib.resources.

The toolbar icons (``halgui/resources/icons/*.svg``) are one monochrome line set drawn with
``currentColor``. :func:`icon` paints them in the palette's text colour, with the disabled and
highlighted colours for the disabled and selected states, so one set serves light and dark
themes. The app icon is an SVG with PNG renderings from 16 to 512 px
(``halgui/resources/app/``). Nothing here is generated code: the files are plain package data,
listed in pyproject.toml, so they travel with the wheel and into the PyInstaller app.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

__all__ = ["APP_ICON_SIZES", "app_icon", "icon", "icon_names", "icon_svg", "resources"]

ICON_SIZES = (16, 20, 24, 32, 48)  # toolbar and menu sizes; QIcon scales for others
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resources() -> Traversable:
    """The package's resources folder (a real folder when installed, inside the app when
    frozen)."""
    return files("halgui") / "resources"


def icon_names() -> list[str]:
    """Names of the toolbar icons, for :func:`icon`."""
    folder = resources() / "icons"
    return sorted(p.name.removesuffix(".svg") for p in folder.iterdir()
                  if p.name.endswith(".svg"))


def icon_svg(name: str) -> bytes:
    """The SVG source of toolbar icon ``name``; KeyError names the known icons."""
    path = resources() / "icons" / f"{name}.svg"
    if not path.is_file():
        raise KeyError(f"no icon {name!r}; known: {', '.join(icon_names())}")
    return path.read_bytes()


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """Toolbar icon ``name`` (see :func:`icon_names`) in ``color``, or else in the application
    palette's text colours (normal, disabled, selected). Needs a QGuiApplication.

    Each call renders the SVG at the toolbar and menu sizes (about 1.5 ms): make an action's
    icon once, and again only when the palette changes (light/dark)."""
    svg = icon_svg(name)
    if color is not None:
        normal = disabled = selected = QColor(color)
    else:
        palette = QGuiApplication.palette()
        normal = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
        disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        selected = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
    result = QIcon()
    for mode, rgb in ((QIcon.Mode.Normal, normal), (QIcon.Mode.Disabled, disabled),
                      (QIcon.Mode.Selected, selected)):  # Active falls back to Normal
        # SVG colours are #RRGGBB: the alpha of a palette colour is dropped
        renderer = QSvgRenderer(QByteArray(svg.replace(b"currentColor", rgb.name().encode())))
        if not renderer.isValid():
            raise ValueError(f"icon {name!r}: not a valid SVG")
        for size in ICON_SIZES:
            result.addPixmap(_render(renderer, size), mode)
    return result


def _render(renderer: QSvgRenderer, size: int) -> QPixmap:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return QPixmap.fromImage(image)


def app_icon() -> QIcon:
    """The app icon at every PNG size (window, taskbar, About). Needs a QGuiApplication."""
    result = QIcon()
    folder = resources() / "app"
    for size in APP_ICON_SIZES:
        pixmap = QPixmap()
        if pixmap.loadFromData((folder / f"halgui-{size}.png").read_bytes(), "PNG"):
            result.addPixmap(pixmap)
    return result
