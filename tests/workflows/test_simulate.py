"""`spets simulate`: the daily engine over a range of days as real flow runs, with a summary."""

import logging
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from spets.cli import main
from spets.models import Task, TaskEscalation, TaskReminder


@pytest.fixture
def harness_api(prefect_server, monkeypatch):
    """Point `spets` at the session's Prefect test server, as PREFECT_API_URL would."""
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    # The command sets these for the rest of the process; monkeypatch restores them.
    monkeypatch.setenv("SPETS_CONFIG", "")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "INFO")
    spets_logger = logging.getLogger("spets")
    level = spets_logger.level
    yield
    spets_logger.setLevel(level)


def count(session_factory, model) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_simulate_prints_summary(build_world, write_config, flow_env, smtp_server, harness_api):
    """From 9 to 14 October: tasks open late, two reminders each, the first escalation level."""
    build_world()
    config = write_config(smtp_port=smtp_server.port)

    result = CliRunner().invoke(
        main, ["-c", config, "simulate", "--from", "2026-10-09", "--to", "14/10/2026"]
    )

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "Simulated 6 days (09/10/2026 to 14/10/2026) in 30 flow runs" in result.output
    assert "Cycle runs opened:   1 (closed: 0)" in lines
    assert "Tasks opened:        3 (cancelled: 0)" in lines
    # Reminders on 9 and 13 October, each day one digest per teacher by e-mail and in-app.
    assert "Reminders:           6 (messages queued: 12)" in lines
    # Head teacher A gets one digest for two tasks, head teacher B one for one task.
    assert "Escalations:         3 (messages queued: 4, without a recipient: 0)" in lines
    assert "Messages sent:       email 8, in_app 8" in lines
    assert "Messages not sent:   0 failed and waiting for a retry, 0 given up" in lines
    assert len(smtp_server.messages) == 8
    assert count(flow_env.session_factory, Task) == 3
    assert count(flow_env.session_factory, TaskReminder) == 6
    assert count(flow_env.session_factory, TaskEscalation) == 3


def test_simulate_rejects_reversed_range(write_config, harness_api):
    config = write_config()
    result = CliRunner().invoke(
        main, ["-c", config, "simulate", "--from", "2026-10-14", "--to", "2026-10-09"]
    )
    assert result.exit_code == 2
    assert "the end comes before the start" in result.output


def test_simulate_rejects_unknown_date_format(write_config, harness_api):
    config = write_config()
    result = CliRunner().invoke(
        main, ["-c", config, "simulate", "--from", "14.10.2026", "--to", "2026-10-14"]
    )
    assert result.exit_code == 2
    assert "write YYYY-MM-DD or dd/mm/yyyy" in result.output


def test_simulate_without_server_uses_ephemeral_mode(build_world, write_config, flow_env, tmp_path):
    """With no PREFECT_API_URL, the command starts a temporary Prefect server of its own."""
    build_world()
    config = write_config()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PREFECT_") and name != "SPETS_CONFIG"
    }
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "SPETS_DATABASE_URL": flow_env.url,
        }
    )

    completed = subprocess.run(
        [sys.executable, "-m", "spets.cli", "-c", config, "simulate", "--from", "14/10/2026"]
        + ["--to", "14/10/2026"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Simulated 1 day (14/10/2026 to 14/10/2026) in 5 flow runs" in completed.stdout
    assert "Tasks opened:        3 (cancelled: 0)" in completed.stdout
    # The temporary server kept its database in the var folder of the ini file.
    assert (tmp_path / "var" / "prefect" / "simulate.db").exists()
