"""The project's own rules, checked on every test run: core stays Qt-free, lint is clean,
files stay small."""

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def test_core_never_imports_qt():
    """The import-linter contract in pyproject.toml: halgui.core never imports PySide6."""
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "halgui.core never imports Qt KEPT" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "halgui", "tests"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_over_600_lines():
    big = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "halgui").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert big == {}


def _pinned(package: str) -> str | None:
    """The ``==`` version of ``package`` in pyproject's test extra (None if not pinned)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extra = re.search(r"^test = \[(.*?)^\]", text, re.S | re.M)
    assert extra, "pyproject.toml has no test extra"
    found = re.search(rf'"{re.escape(package)}==([^"\s;]+)"', extra.group(1))
    return found.group(1) if found else None


def test_linters_are_pinned_to_the_versions_that_run():
    """A new ruff release adds rules: unpinned, CI would turn red on code nobody changed. The
    tools this file runs are the pinned ones (``pip install -e .[test]`` installs them)."""
    ruff, import_linter = _pinned("ruff"), _pinned("import-linter")
    assert ruff and import_linter, "pin ruff and import-linter with == in the test extra"
    ran = subprocess.run([_tool("ruff"), "--version"], capture_output=True, text=True)
    assert ran.stdout.split() == ["ruff", ruff], f"ruff {ruff} is pinned; this runs {ran.stdout}"
    assert importlib.metadata.version("import-linter") == import_linter


def test_hypothesis_has_no_wall_clock_deadline():
    """tests/conftest.py loads a profile without Hypothesis' 200 ms deadline, so a slow
    machine cannot fail a property test that has no settings of its own."""
    assert settings.default.deadline is None
    assert settings().deadline is None
