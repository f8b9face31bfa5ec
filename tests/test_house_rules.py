"""The project's own rules, checked on every test run: core stays Qt-free, lint is clean,
files stay small."""

import shutil
import subprocess
import sys
from pathlib import Path

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
