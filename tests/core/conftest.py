"""The project store on both engines: a test that takes ``store`` runs once on an SQLite
project folder and once on a database of a real PostgreSQL server (:mod:`tests.core.pg_server`,
started once for the session, a new database per test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from halgui.core.project import Project
from tests.core import pg_server

ENGINES = ["sqlite", "postgresql"]


@dataclass
class Store:
    """Makes and reopens projects on one engine, so a test reads the same on both."""

    engine: str
    tmp_path: Path
    server: pg_server.Server | None
    urls: list[str] = field(default_factory=list)
    opened: list[Any] = field(default_factory=list)

    def create(self, name: str = "proj") -> Project:
        if self.server is None:
            return Project.create(self.tmp_path / name)
        url = self.server.new_database()
        self.urls.append(url)
        return Project.create_url(url, self.tmp_path / name)

    def open(self, project: Project, **kwargs: Any) -> Project:
        """The same project opened again (``project`` may be closed)."""
        if project.url is None:
            return Project.open(project.folder, **kwargs)
        return Project.open_url(project.url, project.folder, **kwargs)

    def raw(self, project: Project) -> Any:
        """A connection of the engine's own driver, as another program would read with."""
        if project.url is None:
            import sqlite3

            conn: Any = sqlite3.connect(project.db_path)
        else:
            conn = psycopg.connect(project.url, autocommit=True)
        self.opened.append(conn)  # closed after the test
        return conn


@pytest.fixture(params=ENGINES)
def store(request, tmp_path) -> Iterator[Store]:
    server = request.getfixturevalue("pg") if request.param == "postgresql" else None
    made = Store(request.param, tmp_path, server)
    yield made
    for conn in made.opened:
        conn.close()
    if server is not None:
        for url in made.urls:
            server.drop_database(url)


@pytest.fixture
def project(store) -> Iterator[Project]:
    """A new project on ``store``'s engine, closed after the test (a test module may define
    its own ``project``)."""
    p = store.create()
    yield p
    p.close()
