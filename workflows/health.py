"""Referral follow-up: re-send the referrals whose facility missed a step, once per level.

The engine's escalation sweep records a level on each late REFERRAL_FOLLOW_UP task; this
flow then reads each referral's state and re-sends those still waiting for the facility
(`services.referrals.follow_up_escalations`). It sweeps the referral tasks itself first,
so it does not depend on running after the `escalate` flow. Both steps insert only what
is missing, so a second run, or a run after a crash, sends nothing twice.

Deployed daily at 00:45 Asia/Karachi, after `escalate` at 00:30 (workflows/deployments.py).
"""

from dataclasses import dataclass
from datetime import datetime

from prefect import flow, get_run_logger
from sqlalchemy import select

from spets.models import PENDING_STATES, CycleKind, Task
from spets.services import engine, referrals
from spets.workflows.database import database_task
from spets.workflows.runtime import get_runtime, log_event, resolve_now


@dataclass
class FollowUpSummary:
    schools: int = 0
    levels_recorded: int = 0
    handled: int = 0
    resent: int = 0


@database_task(name="follow-up-referrals")
def follow_up(now: datetime, config: str | None) -> FollowUpSummary:
    """Record the escalation levels of late referral tasks and re-send what is still missing."""
    with get_runtime(config).session_factory() as session, session.begin():
        school_ids = list(
            session.scalars(
                select(Task.school_id)
                .where(
                    Task.kind == CycleKind.REFERRAL_FOLLOW_UP,
                    Task.state.in_(PENDING_STATES),
                    Task.next_escalation_at <= now,
                )
                .distinct()
            )
        )
        swept = engine.sweep_escalations(session, now, school_ids) if school_ids else None
        result = referrals.follow_up_escalations(session, now)
    return FollowUpSummary(
        schools=len(school_ids),
        levels_recorded=swept.steps if swept else 0,
        handled=result.handled,
        resent=result.resent,
    )


@flow(name="referral-follow-up")
async def referral_follow_up(
    now: datetime | None = None, config: str | None = None
) -> FollowUpSummary:
    """Escalate and re-send overdue referrals.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    summary = await follow_up(now, config)
    log_event(get_run_logger(), "referral_follow_up_done", now=now.isoformat(), **vars(summary))
    return summary
