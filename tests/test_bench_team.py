"""The team benchmark, short: labelers in processes of their own editing one PostgreSQL
project at once lose no edit and write none twice, with no error (the 60 s run with the worker
is ``halgui bench team``; its figures are in the notes, not asserted here)."""

from halgui.bench import team
from halgui.core.synthetic import SynthConfig
from tests.test_cli import halgui


def test_labelers_at_once_lose_no_edit(pg, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = pg.new_database()
    try:
        result = team.run(url, labelers=3, seconds=2.0, worker=False, workdir=tmp_path,
                          demo=SynthConfig(n_videos=6, n_frames=24, width=64, height=48,
                                           seed=1))
    finally:
        pg.drop_database(url)
    assert result["errors"] == [] and (result["lost"], result["duplicated"]) == (0, 0)
    assert result["edits"] > 30 and result["p95_ms"] > 0
    print(team.format_table(result))


def test_the_team_benchmark_needs_a_database():
    result = halgui("bench", "team")
    assert result.returncode == 2 and "needs --url" in result.stderr
