"""Where a project lives: a folder (SQLite, the default) or a PostgreSQL database (a shared
project, every labeler's desktop opens the same URL).

A shared project's database holds what the team shares; what one computer needs for itself
(clip caches, proxies, checkpoints it trains, exports) stays in a folder of this computer's,
found from the URL (its password left out) under the user data folder, so each desktop that
opens the project gets its own without being told one.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from halgui.core.project import Project

__all__ = ["create_project", "database_name", "is_url", "local_folder", "open_project",
           "target"]

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
        return Project.open_url(where, local_folder(where), **shared)
    return Project.open(where, **kwargs)


def create_project(where: str | Path) -> Project:
    """A new project in a folder or in an empty PostgreSQL database."""
    from halgui.core.project import Project

    if is_url(where):
        return Project.create_url(where, local_folder(where))
    return Project.create(where)
