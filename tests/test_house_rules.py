"""The project's own rules, checked on every test run: core stays Qt-free, lint is clean,
files stay small."""

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else (shutil.which(name) or name)


@pytest.fixture(scope="module")
def import_contracts() -> subprocess.CompletedProcess[str]:
    """One run of import-linter over the contracts in pyproject.toml."""
    return subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)


def test_core_never_imports_qt(import_contracts):
    """The import-linter contract in pyproject.toml: halgui.core never imports PySide6."""
    assert import_contracts.returncode == 0, import_contracts.stdout + import_contracts.stderr
    assert "halgui.core never imports Qt KEPT" in import_contracts.stdout


@pytest.mark.parametrize("contract", [
    "halgui.core never imports halgui.gui",
    "halgui.core and halgui.gui never import the CLI",
    "The CLI imports downward only: cli, then cli_learning, then cli_common",
])
def test_the_layers_import_downward_only(import_contracts, contract):
    """core is below gui, and both below the CLI; in the CLI, the learning commands and the
    shared helpers never import :mod:`halgui.cli` (no import circle between them)."""
    assert import_contracts.returncode == 0, import_contracts.stdout + import_contracts.stderr
    assert f"{contract} KEPT" in import_contracts.stdout


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
