"""Where a project lives: a folder (SQLite, the default) or a PostgreSQL database (a shared
project, every labeler's desktop opens the same URL).

A shared project's database holds what the team shares; what one computer needs for itself
(clip caches, proxies, checkpoints it trains, exports) stays in a folder of this computer's,
found from the URL (its password left out) under the user data folder, so each desktop that
opens the project gets its own without being told one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from halgui.core.project import Project

__all__ = ["create_project", "database_name", "is_url", "local_folder", "media_root",
           "open_project", "remember_media_root", "target"]

#: This computer's settings for a shared project, in its local folder (never in the database).
MACHINE_FILE = "machine.json"

#: The URL schemes of a shared project (those libpq accepts).
SCHEMES = ("postgresql://", "postgres://")


def is_url(where: str | Path) -> TypeGuard[str]:
    """Whether ``where`` names a PostgreSQL database rather than a folder."""
    return isinstance(where, str) and where.startswith(SCHEMES)


def target(text: str) -> str | Path:
    """A command-line project argument: a database URL as given, else a folder path (argparse
    ``type``: a Path would fold a URL's ``//``)."""
    return text if is_url(text) else Path(text)


def database_name(url: str) -> str:
    """The database's name in ``url`` (what a window's title shows for a shared project)."""
    path = url.split("://", 1)[-1].split("?", 1)[0]
    return path.rsplit("/", 1)[-1] if "/" in path else path


def local_folder(url: str) -> Path:
    """This computer's folder for the shared project at ``url``: the same for every URL that
    differs only in its password, different for different databases."""
    from platformdirs import user_data_dir

    from halgui.core.postgres_sql import label

    named = label(url)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", named.split("://", 1)[-1]).strip("_")[:60]
    digest = hashlib.sha256(named.encode()).hexdigest()[:10]
    return Path(user_data_dir("halgui", appauthor=False)) / "shared" / f"{readable}-{digest}"


def open_project(where: str | Path, **kwargs: Any) -> Project:
    """:meth:`Project.open` for a folder, :meth:`Project.open_url` for a URL (no lock file
    there: the server arbitrates writes, so ``lock`` and ``force`` do not apply)."""
    from halgui.core.project import Project

    if is_url(where):
        shared = {k: v for k, v in kwargs.items() if k in ("read_only", "busy_timeout")}
        return Project.open_url(where, local_folder(where), media_root=media_root(where),
                                **shared)
    return Project.open(where, **kwargs)


def create_project(where: str | Path) -> Project:
    """A new project in a folder or in an empty PostgreSQL database."""
    from halgui.core.project import Project

    if is_url(where):
        return Project.create_url(where, local_folder(where), media_root(where))
    return Project.create(where)


def media_root(url: str) -> Path | None:
    """This computer's media root for the shared project at ``url``, if it was told one."""
    try:
        value = json.loads((local_folder(url) / MACHINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    root = value.get("media_root") if isinstance(value, dict) else None
    return Path(root) if isinstance(root, str) else None


def remember_media_root(project: Project, folder: str | Path) -> None:
    """Make ``folder`` this computer's media root for a shared ``project`` (a folder project
    needs none: its videos are found relative to it). Each member's desktop keeps its own, so
    the same videos can sit under ``/data/media`` on one and ``D:\\media`` on another; the
    paths the project stores are relative to it."""
    if project.url is None:
        return
    root = Path(folder).resolve()
    file = local_folder(project.url) / MACHINE_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    part = file.with_name(f".{MACHINE_FILE}.{os.getpid()}")
    part.write_text(json.dumps({"media_root": str(root)}), encoding="utf-8")
    os.replace(part, file)
    project.media_root = root
