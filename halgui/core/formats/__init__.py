"""Dataset import and export, one module per format.

Each format module offers::

    import_labels(project, path, cancel=None) -> Generator[Progress, None, ImportSummary]
    export_labels(snapshot, out, options=ExportOptions(), cancel=None)
        -> Generator[Progress, None, Path]

and is found here by name. Modules are imported only when their format is used, so a format's
optional reader (an XML or pickle library) costs nothing until then.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from halgui.core.errors import HalguiError

#: format name -> (module, one-line description)
FORMATS: dict[str, tuple[str, str]] = {
    "halgui": ("halgui.core.formats.halgui_json", "halgui's native JSON (keyframes, tracks)"),
}


def register(name: str, module: str, description: str) -> None:
    FORMATS[name] = (module, description)


def get(name: str) -> ModuleType:
    """The module of a format; raises a clear error for an unknown name."""
    if name not in FORMATS:
        raise HalguiError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}")
    return importlib.import_module(FORMATS[name][0])
