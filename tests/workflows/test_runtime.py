"""The flows' plumbing without Prefect: settings, `now`, batch sizes, the day plan, the stack's ports."""

import socket
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from spets.workflows import runtime
from spets.workflows.local_stack import LocalStack, StackError, run_local_stack
from spets.workflows.simulate import day_plan, days_between


def test_now_defaults_to_current_time():
    before = datetime.now(UTC)
    assert before <= runtime.resolve_now(None) <= datetime.now(UTC)


def test_now_converted_to_utc():
    karachi = timezone(timedelta(hours=5))
    now = runtime.resolve_now(datetime(2026, 10, 1, 0, 15, tzinfo=karachi))
    assert now == datetime(2026, 9, 30, 19, 15, tzinfo=UTC)
    assert now.utcoffset() == timedelta(0)


def test_naive_now_rejected():
    with pytest.raises(ValueError, match="has no time zone"):
        runtime.resolve_now(datetime(2026, 10, 1, 0, 15))


@pytest.mark.parametrize(
    ("count", "requested", "expected"),
    [(0, 500, 500), (17_000, 500, 500), (1_000_000, 500, 1000), (1_000_001, 500, 1001)],
)
def test_batch_size_keeps_task_runs_bounded(count, requested, expected):
    assert runtime.batch_size_within(count, requested) == expected


def test_batch_size_zero_rejected():
    with pytest.raises(ValueError, match="batch_size=0 is invalid"):
        runtime.batch_size_within(10, 0)


def test_school_batches_carry_first_and_last_ids():
    found = runtime.SchoolBatches.of([3, 5, 8, 13, 21], 2)
    assert (found.schools, found.batches) == (5, [(3, 5), (8, 13), (21, 21)])
    assert runtime.SchoolBatches.of([], 2) == runtime.SchoolBatches(0, [])


def test_school_batches_stay_within_the_task_run_limit():
    found = runtime.SchoolBatches.of(list(range(1, 5001)), 1)
    assert len(found.batches) == runtime.MAX_TASK_RUNS
    assert found.batches[0] == (1, 5)
    assert found.batches[-1] == (4996, 5000)


def test_missing_config_named(tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.CONFIG_ENV, raising=False)
    missing = tmp_path / "absent.ini"
    with pytest.raises(FileNotFoundError, match="absent.ini not found"):
        runtime.config_path(missing)


def test_secret_settings_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "app.ini"
    path.write_text(
        "[app:main]\nuse = egg:spets\nspets.smtp.password =\nspets.sms.token = from-file\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SPETS_SMTP_PASSWORD", "from-env")
    monkeypatch.delenv("SPETS_SMS_TOKEN", raising=False)
    settings = runtime.read_settings(path)
    assert settings["spets.smtp.password"] == "from-env"
    assert settings["spets.sms.token"] == "from-file"


def test_day_plan_in_time_order():
    plan = day_plan(date(2026, 10, 9), [0, 8])
    steps = [step for _at, step in plan]
    assert steps == ["remind", "deliver", "tick", "escalate", "deliver", "remind", "deliver"]
    assert plan[2][0] == datetime(2026, 10, 8, 19, 15, tzinfo=UTC)  # 00:15 in Karachi
    assert [at for at, _step in plan] == sorted(at for at, _step in plan)


def test_days_between_includes_both_ends():
    assert days_between(date(2026, 10, 30), date(2026, 11, 1)) == [
        date(2026, 10, 30),
        date(2026, 10, 31),
        date(2026, 11, 1),
    ]


def test_stack_stops_early_on_taken_port(tmp_path):
    """A taken Prefect port is reported before any process starts."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(
            config=Path("development.ini"),
            var_dir=tmp_path,
            web_address="127.0.0.1:1",
            prefect_port=port,
            echo=lambda line: None,
        )
        with pytest.raises(StackError, match=f"Port {port} on 127.0.0.1 is already in use"):
            run_local_stack(stack)
    assert stack.children == []
    assert not (tmp_path / "prefect").exists()
