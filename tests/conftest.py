"""Test set-up shared by every tier: Qt runs offscreen unless a display is asked for,
Hypothesis runs without wall-clock deadlines, and one real PostgreSQL server (``pg``) serves
every test of a shared project."""

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.core import pg_server

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Hypothesis fails an example that takes over 200 ms by default. That measures the machine,
# not the code: on a loaded CI runner or a shared laptop a property test would fail at random.
# These tests check results; code that must be fast has its own timing tests and benchmarks.
# HYPOTHESIS_PROFILE=thorough runs ten times the examples, by hand.
settings.register_profile("halgui", deadline=None, print_blob=True)
settings.register_profile("thorough", settings.get_profile("halgui"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "halgui"))


@pytest.fixture(scope="session")
def pg() -> Iterator[pg_server.Server]:
    """A PostgreSQL server of its own for the session (tests.core.pg_server)."""
    try:
        server = pg_server.start()
    except RuntimeError as exc:
        pytest.fail(f"the PostgreSQL tests need a PostgreSQL server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def url(pg) -> Iterator[str]:
    """An empty database of the session's server, dropped after the test."""
    made = pg.new_database()
    yield made
    pg.drop_database(made)


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """This computer's folders of shared projects (under the user data folder) go under the
    test's folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"
