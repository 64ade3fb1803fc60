"""Run the daily engine over a range of past or future days as real Prefect flow runs.

Each day repeats what the deployments do on that day, in Karachi time. The calendar tick
runs at 00:15 and escalations at 00:30. Reminders run at the hour of each active cycle, and
the outbox is delivered one minute after each of those. Every step is a flow run with `now`
set to that instant, so the result equals what the worker would have done on those days.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from spets.models import CycleDefinition
from spets.workflows.cycles import TickSummary, calendar_tick
from spets.workflows.engine import SweepSummary, escalate, send_reminders
from spets.workflows.messaging import DeliverySummary, deliver_outbox
from spets.workflows.runtime import SCHEDULE_ZONE, SCHOOLS_PER_TASK_RUN, get_runtime, run_flow

TICK_AT = time(0, 15)
ESCALATE_AT = time(0, 30)
DELIVERY_DELAY = timedelta(minutes=1)


@dataclass
class SimulationSummary:
    days: int = 0
    flow_runs: int = 0
    runs_opened: int = 0
    runs_closed: int = 0
    tasks_opened: int = 0
    tasks_cancelled: int = 0
    reminders: int = 0
    reminder_messages: int = 0
    escalations: int = 0
    escalation_messages: int = 0
    unreachable: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    gave_up: int = 0

    def add_tick(self, result: TickSummary) -> None:
        self.runs_opened += result.runs_opened
        self.runs_closed += result.runs_closed
        self.tasks_opened += result.tasks_created
        self.tasks_cancelled += result.tasks_cancelled

    def add_reminders(self, result: SweepSummary) -> None:
        self.reminders += result.steps
        self.reminder_messages += result.messages

    def add_escalations(self, result: SweepSummary) -> None:
        self.escalations += result.steps
        self.escalation_messages += result.messages
        self.unreachable += result.unreachable

    def add_delivery(self, result: DeliverySummary) -> None:
        for channel, count in result.sent.items():
            self.sent[channel] = self.sent.get(channel, 0) + count
        self.failed += result.failed
        self.gave_up += result.gave_up


def days_between(first: date, last: date) -> list[date]:
    if last < first:
        raise ValueError(f"The range {first} to {last} is empty: the end comes before the start.")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def reminder_hours(config: str | None = None) -> list[int]:
    """Return the local hours at which the active cycle definitions send reminders."""
    with get_runtime(config).session_factory() as session:
        hours = session.scalars(
            select(CycleDefinition.reminder_hour)
            .where(CycleDefinition.is_active.is_(True))
            .distinct()
        ).all()
    return sorted(hours)


def day_plan(day: date, hours: list[int]) -> list[tuple[datetime, str]]:
    """Return the (UTC instant, step) pairs of one local day, in time order."""
    zone = ZoneInfo(SCHEDULE_ZONE)

    def at(clock: time) -> datetime:
        return datetime.combine(day, clock, zone).astimezone(UTC)

    steps = [(at(TICK_AT), "tick"), (at(ESCALATE_AT), "escalate")]
    steps.append((at(ESCALATE_AT) + DELIVERY_DELAY, "deliver"))
    for hour in hours:
        steps.append((at(time(hour)), "remind"))
        steps.append((at(time(hour)) + DELIVERY_DELAY, "deliver"))
    order = {"remind": 0, "tick": 1, "escalate": 2, "deliver": 3}
    return sorted(steps, key=lambda step: (step[0], order[step[1]]))


def simulate_day(
    day: date,
    hours: list[int],
    summary: SimulationSummary,
    *,
    batch_size: int = SCHOOLS_PER_TASK_RUN,
    config: str | None = None,
) -> None:
    """Run one day's flows in time order and add their results to `summary`."""
    steps: dict[str, Callable[[datetime], None]] = {
        "tick": lambda now: summary.add_tick(
            run_flow(calendar_tick, now=now, batch_size=batch_size, config=config)
        ),
        "escalate": lambda now: summary.add_escalations(
            run_flow(escalate, now=now, batch_size=batch_size, config=config)
        ),
        "remind": lambda now: summary.add_reminders(
            run_flow(send_reminders, now=now, batch_size=batch_size, config=config)
        ),
        "deliver": lambda now: summary.add_delivery(
            run_flow(deliver_outbox, now=now, config=config)
        ),
    }
    for now, step in day_plan(day, hours):
        steps[step](now)
        summary.flow_runs += 1
    summary.days += 1
