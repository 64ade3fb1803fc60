"""The demo's current quarter: some sheets approved, some waiting, some late and escalated.

After the earlier quarters are loaded (`demo.feedback`), the current quarter's feedback
tasks are put in the states a real school shows a few weeks in, and the reminder and
escalation sweeps run once at the load time, so the demo opens with reminders,
escalations and their messages waiting in the outbox for the worker to deliver.
"""

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spets.models import CycleKind, OrgKind, OrgUnit, Quarter, Role, Task, TaskState
from spets.services import calendar, engine, feedback, tasks
from spets.services.audit import Actor

SEED = 20083

# Shares of the current quarter's tasks, in this order, once the due date has passed.
LATE_MIX = (("approved", 0.55), ("submitted", 0.2), ("draft", 0.1), ("untouched", 0.15))
# Before the due date fewer sheets are done.
EARLY_MIX = (("submitted", 0.3), ("draft", 0.3), ("untouched", 0.4))


@dataclass
class EngineDemoSummary:
    approved: int = 0
    submitted: int = 0
    drafts: int = 0
    untouched: int = 0
    reminders: int = 0
    escalations: int = 0
    messages: int = 0


def load_current_quarter(session: Session, now: datetime) -> EngineDemoSummary:
    """Move the current quarter's demo tasks forward and run the sweeps once; the caller commits."""
    from spets.demo import feedback as demo_feedback
    from spets.demo.load import DEMO_SCHOOL_CODE

    school = session.scalar(
        select(OrgUnit).where(OrgUnit.kind == OrgKind.SCHOOL, OrgUnit.code == DEMO_SCHOOL_CODE)
    )
    today = calendar.local_today(now, school.timezone)
    head = tasks.role_holders(session, school, Role.HEAD_TEACHER, now)[0]
    grades = demo_feedback._uci_grades()
    pending = session.scalars(
        select(Task)
        .where(
            Task.school_id == school.id,
            Task.state == TaskState.OPEN,
            Task.kind == CycleKind.QUARTERLY_FEEDBACK,
        )
        .order_by(Task.id)
    ).all()

    summary = EngineDemoSummary()
    rng = random.Random(SEED)
    for task in pending:
        mix = LATE_MIX if today > task.due_on else EARLY_MIX
        outcome = _draw(rng, mix)
        position = session.get(Quarter, task.cycle_run.quarter_id).number - 1
        if outcome == "untouched":
            summary.untouched += 1
            continue
        sheet = feedback.load_sheet(session, task)
        rows = [
            demo_feedback._student_row(sheet, row, task.subject.code, position, grades)
            for row in sheet.rows
        ]
        teacher = Actor(task.assignee_id)
        at = min(now, demo_feedback._local(task.due_on, 12, 0, school.timezone))
        if outcome == "draft":
            # A teacher half way through: the first rows saved, the rest still empty.
            feedback.save_draft(
                session, task, rows[: len(rows) // 2], version=task.version, actor=teacher, now=at
            )
            summary.drafts += 1
            continue
        feedback.save_draft(session, task, rows, version=task.version, actor=teacher, now=at)
        tasks.move(session, task, "submit", actor=teacher, now=at)
        if outcome == "approved":
            tasks.move(
                session,
                task,
                "approve",
                actor=Actor(head.id),
                now=min(now, demo_feedback._local(task.due_on, 15, 0, school.timezone)),
            )
            summary.approved += 1
        else:
            summary.submitted += 1
    session.flush()

    summary.reminders = engine.sweep_reminders(session, now).steps
    summary.escalations = engine.sweep_escalations(session, now).steps
    summary.messages = (
        engine.send_reminder_digests(session, now).messages
        + engine.send_escalation_digests(session, now).messages
    )
    session.flush()
    return summary


def _draw(rng: random.Random, mix) -> str:
    roll = rng.random()
    for outcome, share in mix:
        if roll < share:
            return outcome
        roll -= share
    return mix[-1][0]
