"""PySide6.QtGui as PyInstaller's own hook collects it, minus the GTK 3 platform theme.

That plugin would load the desktop's GTK 3 against the GLib, cairo and pango copies bundled
for it from the build machine, a mix that breaks when the versions differ. halgui sets the
Fusion style itself, and the light/dark scheme still comes from the xdg-desktop-portal theme.
User hooks (``hookspath`` in halgui.spec) take precedence over PyInstaller's.
"""

import os

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dest) for src, dest in binaries if "qgtk3" not in os.path.basename(src)]
