"""helpers.preflight in local mode, against a running local cloud and against a state dir with nothing."""

from __future__ import annotations

from helpers.preflight import run_checks


def test_all_checks_pass_with_the_local_cloud_up(lab) -> None:
    checks = run_checks(lab)

    assert [c for c in checks if not c.ok] == []
    names = [c.name for c in checks]
    assert "local cloud" in names and "mode" in names
    local = next(c for c in checks if c.name == "local cloud")
    assert local.detail == "aws: healthy, momento: healthy, pipes: healthy" and local.fix == ""
    assert all(c.as_row()["ok"] == "yes" for c in checks)


def test_local_cloud_check_fails_where_nothing_runs(lab, tmp_path) -> None:
    checks = {c.name: c for c in run_checks(lab.with_(state_dir=tmp_path / "nothing-here"))}

    local = checks["local cloud"]
    assert local.ok is False
    assert local.fix == "weatherlab local up"
    assert local.detail == "aws: down, momento: down, pipes: down"
    assert local.as_row()["ok"] == "NO"
    assert all(c.ok for name, c in checks.items() if name != "local cloud")
