"""The command line's error discipline: the user's errors exit 2 with their message, bugs exit 70 and are logged."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app
from api.crashlog import INTERNAL_EXIT

runner = CliRunner()


def test_user_error_exits_2_with_its_message(tmp_path, monkeypatch):
    monkeypatch.setenv("LIFECIRCLE_DATA", str(tmp_path))
    result = runner.invoke(app, ["ratios", "--city", "atlantis"])
    assert result.exit_code == 2
    assert "atlantis" in result.output and "internal error" not in result.output
    assert not (tmp_path / "logs").exists()


def test_unexpected_error_exits_70_and_logs_the_traceback(tmp_path, monkeypatch):
    import scenarios.ratio_standards

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setenv("LIFECIRCLE_DATA", str(tmp_path))
    monkeypatch.setattr(scenarios.ratio_standards, "run_ratios", broken)
    result = runner.invoke(app, ["ratios", "--city", "demo"])
    assert result.exit_code == INTERNAL_EXIT == 70
    log = tmp_path / "logs" / "lifecircle.log"
    assert "internal error (ValueError)" in result.output and str(log) in result.output.replace("\n", "")
    assert "broadcast" not in result.output  # the internals are in the log, not on the screen
    text = log.read_text()
    assert "Traceback" in text and "broadcast together" in text and "broken" in text
