"""File pickers: videos (files or folders) and project folders."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from halgui.core.video import VIDEO_EXTENSIONS

__all__ = ["ask_project_folder", "ask_video_files", "ask_video_folder"]


def ask_video_files(parent: QWidget | None, start: str = "") -> list[Path]:
    patterns = " ".join(f"*{ext}" for ext in sorted(VIDEO_EXTENSIONS))
    names, _ = QFileDialog.getOpenFileNames(
        parent, "Add videos", start, f"Videos ({patterns});;All files (*)"
    )
    return [Path(n) for n in names]


def ask_video_folder(parent: QWidget | None, start: str = "") -> list[Path]:
    """A folder of videos, or a folder of frame images (one video); [] if cancelled."""
    name = QFileDialog.getExistingDirectory(parent, "Add a folder of videos or frames", start)
    return [Path(name)] if name else []


def ask_project_folder(parent: QWidget | None, start: str = "") -> Path | None:
    name = QFileDialog.getExistingDirectory(parent, "Open a project folder", start)
    return Path(name) if name else None
