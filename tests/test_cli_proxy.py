"""``halgui add`` builds proxies; ``halgui proxy`` shows, builds, clears and budgets them: a real
subprocess, real files."""

import json

from tests.core.test_video import write_h264
from tests.test_cli import halgui


def _json(*args):
    result = halgui(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_add_builds_the_proxy_and_proxy_shows_builds_and_clears(tmp_path):
    project = tmp_path / "p"
    assert halgui("new", project).returncode == 0
    a = write_h264(tmp_path / "a.mp4", 45, gop=40)
    b = write_h264(tmp_path / "b.mp4", 31, gop=30)
    added = halgui("add", project, a)
    assert added.returncode == 0, added.stderr
    assert "built 1 proxy(ies)" in added.stdout
    assert len(list((project / "cache" / "proxies").glob("*.mp4"))) == 1
    report = _json("add", project, b, "--no-proxy")
    assert (report["added"], report["proxies_built"]) == (1, 0)
    status = _json("proxy", project)
    assert (status["videos"], status["without_proxy"], status["enabled"]) == (2, 1, True)
    assert 0 < status["used_bytes"] < status["budget_mib"] << 20
    built = _json("proxy", project, "--build")
    assert (built["proxies_built"], built["without_proxy"], built["proxies_failed"]) == (1, 0, {})
    cleared = _json("proxy", project, "--clear")
    assert (cleared["without_proxy"], cleared["used_bytes"]) == (2, 0)


def test_budget_and_off_switch_are_saved_and_a_failure_is_reported(tmp_path):
    project = tmp_path / "p"
    halgui("new", project)
    status = _json("proxy", project, "--budget-mib", "0")
    assert status["budget_mib"] == 0
    added = halgui("add", project, write_h264(tmp_path / "a.mp4", 45, gop=40))
    assert added.returncode == 0, added.stderr  # the video is added; it just has no proxy
    assert "no proxy for a (it works, with slower seeking)" in added.stderr
    assert "disk budget of 0 MiB" in added.stderr
    assert _json("proxy", project)["without_proxy"] == 1
    off = _json("proxy", project, "--off", "--budget-mib", "100")
    assert (off["enabled"], off["budget_mib"], off["without_proxy"]) == (False, 100,
                                                                         "(proxies are off)")
    report = _json("add", project, write_h264(tmp_path / "b.mp4", 31, gop=30))
    assert (report["added"], report["proxies_built"]) == (1, 0)
    on = _json("proxy", project, "--on", "--build")
    assert (on["enabled"], on["proxies_built"], on["without_proxy"]) == (True, 2, 0)
