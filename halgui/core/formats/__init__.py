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
    "coco": ("halgui.core.formats.coco", "CocoVid JSON: videos, frames, tracks, action attributes"),
    "cvat": ("halgui.core.formats.cvat", "CVAT for video 1.1 XML: tracks with keyframe/outside"),
    "mot": ("halgui.core.formats.mot", "MOTChallenge gt.txt + seqinfo.ini, actions in a sidecar"),
    "yolo": ("halgui.core.formats.yolo", "YOLO per-frame txt + classes"),
    "ava": ("halgui.core.formats.ava", "AVA CSV + label-map pbtxt + excluded timestamps"),
    "ucf24": ("halgui.core.formats.ucf24", "UCF101-24 corrected annotations (pyannot.pkl)"),
    "act": ("halgui.core.formats.act", "ACT/MOC/YOWO ground-truth pickle (UCF101v2-GT.pkl)"),
}


def register(name: str, module: str, description: str) -> None:
    FORMATS[name] = (module, description)


def get(name: str) -> ModuleType:
    """The module of a format; raises a clear error for an unknown name."""
    if name not in FORMATS:
        raise HalguiError(f"unknown format {name!r}; known: {', '.join(sorted(FORMATS))}")
    return importlib.import_module(FORMATS[name][0])
