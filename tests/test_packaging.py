"""Lint-level checks of the packaging, run by CI instead of the full PyInstaller build (which
takes minutes and about 1 GB; packaging/README.md has the figures): the spec, the scripts, the
resources the code and the app need, the desktop entry and the AppStream metadata."""

from __future__ import annotations

import ast
import configparser
import re
import shutil
import struct
import subprocess
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "halgui.spec"
RESOURCES = ROOT / "halgui" / "resources"
DESKTOP_ID = "io.github.halgui.halgui"
DESKTOP = ROOT / "resources" / f"{DESKTOP_ID}.desktop"
METAINFO = ROOT / "resources" / f"{DESKTOP_ID}.metainfo.xml"
SVG = "{http://www.w3.org/2000/svg}"
# a test dependency's import name, where it is not the distribution name
IMPORT_NAMES = {"pytest-qt": "pytestqt", "import-linter": "importlinter",
                "PyVirtualDisplay": "pyvirtualdisplay"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------- the spec
class _Recorder:
    """Stands in for PyInstaller's Analysis, PYZ, EXE, COLLECT and BUNDLE: keeps the
    arguments."""

    def __init__(self, kind: str, calls: list, binaries: list) -> None:
        self.kind, self.calls, self.binaries = kind, calls, binaries

    def __call__(self, *args, **kwargs):
        self.calls.append((self.kind, args, kwargs))
        return types.SimpleNamespace(pure=[], scripts=[], binaries=self.binaries, datas=[])


def _qt_plugin_binaries() -> list[tuple[str, str, str]]:
    names = ["platforms/libqxcb.so", "platforms/libqwayland.so", "platforms/qwindows.dll",
             "platforms/libqcocoa.dylib", "platforms/libqoffscreen.so",
             "imageformats/libqsvg.so", "imageformats/libqjpeg.so",
             "iconengines/libqsvgicon.so"]
    return [(f"PySide6/Qt/plugins/{n}", f"/src/{n}", "BINARY") for n in names]


def run_spec(monkeypatch, binaries: list) -> list[tuple[str, tuple, dict]]:
    """Execute the spec as PyInstaller would, with recorders for its build steps and stand-ins
    for the hook helpers (so PyInstaller need not be installed)."""
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda package, **_: [f"{package}.core.formats.coco"]
    hooks.copy_metadata = lambda dist, **_: [(f"/site/{dist}.dist-info", f"{dist}.dist-info")]
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    calls: list = []
    namespace = {"__name__": "__main__", "__file__": str(SPEC), "SPECPATH": str(SPEC.parent)}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = _Recorder(kind, calls, binaries)
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)
    return calls


def _analysis(calls):
    ((_, args, kwargs),) = [c for c in calls if c[0] == "Analysis"]
    return args, kwargs


def test_spec_parses_as_python():
    ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def test_spec_entry_point_is_the_halgui_command(monkeypatch):
    (scripts,), kwargs = _analysis(run_spec(monkeypatch, _qt_plugin_binaries()))
    assert [Path(s) for s in scripts] == [ROOT / "packaging" / "entry.py"]
    entry = ast.parse((ROOT / "packaging" / "entry.py").read_text(encoding="utf-8"))
    imports = {(n.module, a.name) for n in ast.walk(entry) if isinstance(n, ast.ImportFrom)
               for a in n.names}
    assert ("halgui.cli", "main") in imports
    # the same function as the pip-installed command
    assert _pyproject()["project"]["scripts"]["halgui"] == "halgui.__main__:main"
    import halgui.__main__
    import halgui.cli

    assert halgui.__main__.main is halgui.cli.main
    assert "halgui.core.formats.coco" in kwargs["hiddenimports"]
    assert "PySide6.QtSvg" in kwargs["hiddenimports"]


def test_spec_collects_the_resources_and_the_metadata(monkeypatch):
    _, kwargs = _analysis(run_spec(monkeypatch, _qt_plugin_binaries()))
    datas = [(Path(src), dest) for src, dest in kwargs["datas"]]
    assert (RESOURCES, "halgui/resources") in datas
    assert any(dest == "halgui.dist-info" for _, dest in datas)  # halgui --version
    assert any(dest == "torch.dist-info" for _, dest in datas)  # About: torch's version


def test_spec_makes_one_folder_app_named_halgui(monkeypatch):
    calls = run_spec(monkeypatch, _qt_plugin_binaries())
    exes = [kwargs for kind, _, kwargs in calls if kind == "EXE"]
    assert exes[0]["name"] == "halgui" and exes[0]["console"] is True
    assert all(e["exclude_binaries"] for e in exes)  # one folder, not one file
    ((_, _, collect),) = [c for c in calls if c[0] == "COLLECT"]
    assert collect["name"] == "halgui"


def test_spec_stops_when_a_qt_plugin_is_missing(monkeypatch):
    run_spec(monkeypatch, _qt_plugin_binaries())  # all there: builds
    without_offscreen_or_svg = [b for b in _qt_plugin_binaries()
                                if "qoffscreen" not in b[0] and "qsvgicon" not in b[0]]
    with pytest.raises(SystemExit, match=r"qoffscreen.*qsvgicon"):
        run_spec(monkeypatch, without_offscreen_or_svg)


def test_spec_excludes_every_test_dependency(monkeypatch):
    _, kwargs = _analysis(run_spec(monkeypatch, _qt_plugin_binaries()))
    excludes = set(kwargs["excludes"])
    for requirement in _pyproject()["project"]["optional-dependencies"]["test"]:
        dist = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        assert IMPORT_NAMES.get(dist, dist.replace("-", "_")) in excludes, dist
    assert {"PyInstaller", "tests"} <= excludes


def test_pyinstaller_is_only_in_the_packaging_extra():
    project = _pyproject()["project"]
    assert any(r.startswith("pyinstaller") for r in project["optional-dependencies"]["packaging"])
    assert not any(r.lower().startswith("pyinstaller") for r in project["dependencies"])


@pytest.mark.parametrize("script", ["build.sh", "smoke_test.sh", "time_to_window.sh",
                                    "install-desktop-entry.sh"])
def test_shell_scripts_parse_and_are_executable(script):
    path = ROOT / "packaging" / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    if shutil.which("bash"):
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------- resources
def _referenced_icons() -> dict[str, set[str]]:
    """Icon names passed to icons.icon("...") in the code and in resources/README.md."""
    pattern = re.compile(r"""\bicon\(\s*["']([\w-]+)["']""")
    found: dict[str, set[str]] = {}
    files = [*(ROOT / "halgui").rglob("*.py"), ROOT / "resources" / "README.md"]
    for path in files:
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_referenced_icon_exists():
    referenced = _referenced_icons()
    assert len(referenced) >= 10  # the README's table at least
    missing = {name: where for name, where in referenced.items()
               if not (RESOURCES / "icons" / f"{name}.svg").is_file()}
    assert missing == {}


@pytest.mark.parametrize("path", sorted((RESOURCES / "icons").glob("*.svg")),
                         ids=lambda p: p.stem)
def test_toolbar_icon_is_a_plain_line_svg(path):
    """One consistent set: 24x24, drawn in currentColor (icons.py recolours it), no text,
    styles, scripts or links that Qt's SVG renderer would not draw or should not run."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 24 24"
    assert root.get("stroke") == "currentColor" and root.get("fill") == "none"
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"#[0-9a-fA-F]{3,6}\b|rgb\(", text), "a fixed colour"
    tags = {el.tag.removeprefix(SVG) for el in root.iter()}
    assert tags <= {"svg", "path", "rect", "circle", "line", "polyline", "polygon", "g"}
    assert "href" not in text


def test_app_icon_svg_and_png_sizes():
    ET.parse(RESOURCES / "app" / "halgui.svg")
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        data = (RESOURCES / "app" / f"halgui-{size}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)


def test_package_data_covers_every_resource_file():
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["halgui"]
    package = ROOT / "halgui"
    covered = {p for pattern in patterns for p in package.glob(pattern)}
    files = {p for p in RESOURCES.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert files and files <= covered, sorted(map(str, files - covered))


def test_no_generated_resource_modules():
    generated = [p for p in ROOT.glob("halgui/**/*")
                 if p.suffix == ".qrc" or re.fullmatch(r"(rc_.*|.*_rc)\.py", p.name)]
    assert generated == []


# ---------------------------------------------------------------------- desktop integration
def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "halgui"
    assert entry["Exec"].split()[0] == "halgui"
    assert entry["Icon"] == DESKTOP_ID
    assert entry["Categories"].endswith(";")
    assert entry["Terminal"] == "false"
    from halgui.gui.app import DESKTOP_ID as app_desktop_id

    assert app_desktop_id == DESKTOP_ID  # Qt names the desktop file to the window manager


def test_metainfo_matches_the_desktop_entry_and_the_version():
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == DESKTOP_ID
    assert root.find("launchable").text == DESKTOP.name
    newest = root.find("releases/release")
    assert newest.get("version") == _pyproject()["project"]["version"], (
        "add a <release> for the new version to the metainfo")


@pytest.mark.parametrize("tool, args, path", [
    ("desktop-file-validate", [], DESKTOP),
    ("appstreamcli", ["validate", "--no-net"], METAINFO),
])
def test_validators_accept_the_desktop_files(tool, args, path):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    result = subprocess.run([tool, *args, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
