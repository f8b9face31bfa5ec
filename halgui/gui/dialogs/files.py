"""File pickers: videos (files or folders) and project folders; a shared project's URL."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QWidget

from halgui.core.locations import is_url
from halgui.core.video import VIDEO_EXTENSIONS

__all__ = ["ask_project_folder", "ask_shared_url", "ask_video_files", "ask_video_folder"]


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


def ask_shared_url(parent: QWidget | None) -> str | None:
    """A shared project's PostgreSQL URL, asked for until it is one; None if cancelled."""
    text = ""
    prompt = "The project's PostgreSQL URL, as the team was given it:"
    while True:
        text, ok = QInputDialog.getText(parent, "Open a shared project", prompt,
                                        QLineEdit.EchoMode.Normal,
                                        text or "postgresql://USER@HOST/DATABASE")
        if not ok:
            return None
        text = text.strip()
        if is_url(text):
            return text
        prompt = "That is not a PostgreSQL URL (postgresql://USER@HOST/DATABASE); try again:"
