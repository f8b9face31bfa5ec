"""The toolbar icons and the app icon, loaded from the package data and drawn by Qt."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from halgui.gui import icons
from halgui.gui.app import make_app

NAMES = icons.icon_names()


def _colours(pixmap) -> set[tuple[int, int, int]]:
    """The opaque colours a pixmap draws with."""
    image = pixmap.toImage()
    found = set()
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.alpha() == 255:
                found.add((c.red(), c.green(), c.blue()))
    return found


def _ink(pixmap) -> int:
    """Pixels at least half covered."""
    image = pixmap.toImage()
    return sum(image.pixelColor(x, y).alpha() >= 128
               for y in range(image.height()) for x in range(image.width()))


def test_the_set_is_complete():
    expected = {"open", "add-video", "undo", "redo", "fit", "mark-labeled", "copy-previous",
                "retrain", "cancel", "play", "pause", "step-forward", "step-back",
                "next-proposal", "previous-proposal"}
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_icon_draws_something_at_toolbar_sizes(qapp, name):
    ic = icons.icon(name)
    assert not ic.isNull()
    for size in (16, 24, 32):
        pixmap = ic.pixmap(size, size)
        assert pixmap.width() == size
        assert _ink(pixmap) >= size, f"{name} at {size} px draws next to nothing"


def test_icons_take_the_palette_text_colour(qapp):
    palette = QApplication.palette()
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    ic = icons.icon("pause")  # two solid bars: pure colour inside
    normal_colours = _colours(ic.pixmap(48, 48))
    assert (text.red(), text.green(), text.blue()) in normal_colours
    disabled_colours = _colours(ic.pixmap(48, 48, QIcon.Mode.Disabled))
    assert (disabled.red(), disabled.green(), disabled.blue()) in disabled_colours


def test_an_explicit_colour(qapp):
    assert (255, 0, 0) in _colours(icons.icon("play", QColor("#ff0000")).pixmap(48, 48))
    assert (0, 128, 0) in _colours(icons.icon("play", "green").pixmap(48, 48))


def test_an_unknown_icon_names_the_known_ones(qapp):
    with pytest.raises(KeyError, match=r"no icon 'nope'.*mark-labeled"):
        icons.icon("nope")


def test_svg_source_is_package_data():
    assert icons.icon_svg("play").startswith(b"<svg")
    assert icons.resources().joinpath("icons", "play.svg").is_file()


def test_app_icon_has_every_size(qapp):
    ic = icons.app_icon()
    sizes = {(s.width(), s.height()) for s in ic.availableSizes()}
    assert sizes == {(n, n) for n in icons.APP_ICON_SIZES}


def test_make_app_sets_the_window_icon(qapp):
    app = make_app()
    assert not app.windowIcon().isNull()
    assert app.windowIcon().availableSizes()
