"""Intervention plans: a goal, actions, an owner and parent consent, with reviews on the engine.

A plan starts from an early-warning flag or by hand, and has one pending review at a time:
an `InterventionReview` row for the date on the plan. The review's task opens on the engine
with `cycles.open_record_task` (kind INTERVENTION_REVIEW, assigned to the plan's owner).
It opens the definition's `due_after_school_days` school days before the review date, so it
falls due on that date, and its reminders and escalations follow the definition. The daily
sweep opens the tasks whose day has come, and saving a plan or a review opens one at once
when its day has already come.

Recording a review stores the progress and whether the concern is resolved, closes the
review's task (a review needs no sign-off: the plan's history keeps it), and either sets
the next review or closes the plan.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from spets.i18n import _
from spets.models import (
    AuditAction,
    CycleDefinition,
    CycleKind,
    EarlyWarningFlag,
    Enrollment,
    InterventionPlan,
    InterventionReview,
    OrgUnit,
    PlanState,
    Role,
    RoleAssignment,
    Section,
    Student,
    Task,
    TaskSchedule,
    User,
)
from spets.services import audit, cycles, tasks
from spets.services.attendance import school_day_groups
from spets.services.audit import Actor
from spets.services.calendar import local_today
from spets.services.errors import InvalidInput, Locked
from spets.services.org import check_version
from spets.services.schedules import TenantCalendar, get_or_create_schedule, shift_school_days

log = logging.getLogger(__name__)

PLAN_FIELDS = (
    "goal",
    "actions",
    "owner_id",
    "parent_consent",
    "parent_consent_on",
    "review_on",
)
OWNER_ROLES = (Role.TEACHER, Role.HEAD_TEACHER, Role.COUNSELLOR)
# A review date may lie at most this far ahead.
REVIEW_HORIZON = timedelta(days=366)
# The daily sweep looks at reviews due up to this far ahead: far more than any definition's
# school days from opening to due date.
OPENING_LOOKAHEAD = timedelta(days=90)


def plan_owners(session: Session, school: OrgUnit, today: date) -> list[tuple[int, str]]:
    """(user id, name) of the staff of the school who may own a plan: teachers, head teachers, counsellors."""
    rows = session.execute(
        select(User.id, User.display_name)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(
            RoleAssignment.org_unit_id == school.id,
            RoleAssignment.role.in_(OWNER_ROLES),
            RoleAssignment.valid_from <= today,
            or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= today),
            User.is_active.is_(True),
        )
        .order_by(User.display_name, User.id)
        .distinct()
    ).all()
    return [(user_id, name) for user_id, name in rows]


def _check_plan(values: dict, owners: Sequence[tuple[int, str]], today: date) -> None:
    errors: dict[str, object] = {}
    if values["owner_id"] not in {user_id for user_id, _name in owners}:
        errors["owner_id"] = _(
            "plan_owner_invalid",
            default="The owner must be a teacher, head teacher or counsellor of the student's school.",
        )
    review_on = values["review_on"]
    if review_on < today:
        errors["review_on"] = _(
            "review_in_past",
            default="${date} has passed: give a review date from today on.",
            mapping={"date": review_on.strftime("%d/%m/%Y")},
        )
    elif review_on > today + REVIEW_HORIZON:
        errors["review_on"] = _(
            "review_too_far",
            default="${date} is more than a year ahead: review a plan at least once a year.",
            mapping={"date": review_on.strftime("%d/%m/%Y")},
        )
    consent_on = values.get("parent_consent_on")
    if values.get("parent_consent") and consent_on is None:
        errors["parent_consent_on"] = _(
            "consent_date_needed", default="Give the date the parent agreed."
        )
    elif consent_on is not None and consent_on > today:
        errors["parent_consent_on"] = _(
            "consent_in_future",
            default="${date} has not come yet: give the day the parent agreed.",
            mapping={"date": consent_on.strftime("%d/%m/%Y")},
        )
    if errors:
        raise InvalidInput(
            _("plan_invalid", default="The plan was not saved: correct the fields marked."), errors
        )


def _snapshot(plan: InterventionPlan) -> dict:
    return audit.snapshot(plan, PLAN_FIELDS)


def create_plan(
    session: Session,
    student: Student,
    values: dict,
    *,
    flag_id: int | None,
    actor: Actor,
    now: datetime,
) -> InterventionPlan:
    """Start a plan for a student, from one of their open flags or by hand, with its first review."""
    school = student.school
    today = local_today(now, school.timezone)
    _check_plan(values, plan_owners(session, school, today), today)

    if flag_id is not None:
        flag = session.get(EarlyWarningFlag, flag_id)
        if flag is None or flag.student_id != student.id or flag.resolved_at is not None:
            raise InvalidInput(
                _(
                    "plan_flag_invalid",
                    default="The flag is not an open flag of this student; start the plan by hand.",
                )
            )

    plan = InterventionPlan(
        student_id=student.id,
        flag_id=flag_id,
        goal=values["goal"],
        actions=values["actions"],
        owner_id=values["owner_id"],
        parent_consent=bool(values.get("parent_consent")),
        parent_consent_on=values.get("parent_consent_on") if values.get("parent_consent") else None,
        review_on=values["review_on"],
        state=PlanState.ACTIVE,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(plan)
    session.flush()
    plan.reviews.append(InterventionReview(due_on=plan.review_on, progress=""))
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.CREATE,
        entity_type="intervention_plan",
        entity_id=plan.id,
        student_id=student.id,
        org_unit_id=school.id,
        now=now,
        changes=audit.diff({}, _snapshot(plan)),
    )
    open_due_reviews(session, now, plan_ids=[plan.id])
    return plan


def pending_review(session: Session, plan: InterventionPlan) -> InterventionReview | None:
    """Return the plan's review not yet recorded, if any (an active plan has exactly one)."""
    return session.scalar(
        select(InterventionReview)
        .where(InterventionReview.plan_id == plan.id, InterventionReview.reviewed_at.is_(None))
        .order_by(InterventionReview.due_on.desc())
        .limit(1)
    )


def _require_active(plan: InterventionPlan) -> None:
    if plan.state != PlanState.ACTIVE:
        raise Locked(
            _(
                "plan_closed",
                default="This plan is closed; start a new plan if help is needed again.",
            )
        )


def update_plan(
    session: Session,
    plan: InterventionPlan,
    values: dict,
    *,
    version: int | None,
    actor: Actor,
    now: datetime,
) -> InterventionPlan:
    """Change an active plan. A new review date moves the pending review; a new owner takes its task."""
    _require_active(plan)
    check_version(plan, version, values, PLAN_FIELDS)
    school = plan.student.school
    today = local_today(now, school.timezone)
    _check_plan(values, plan_owners(session, school, today), today)

    before = _snapshot(plan)
    review = pending_review(session, plan)
    if values["review_on"] != plan.review_on and review is not None:
        review = _reschedule(session, plan, review, values["review_on"], now)
    for name in PLAN_FIELDS:
        setattr(plan, name, values.get(name))
    plan.parent_consent = bool(values.get("parent_consent"))
    if not plan.parent_consent:
        plan.parent_consent_on = None
    if review is not None and review.task_id is not None:
        task = session.get(Task, review.task_id)
        if task.is_pending and task.assignee_id != plan.owner_id:
            task.assignee_id = plan.owner_id
    session.flush()

    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="intervention_plan",
        entity_id=plan.id,
        student_id=plan.student_id,
        org_unit_id=school.id,
        now=now,
        changes=audit.diff(before, _snapshot(plan)),
    )
    open_due_reviews(session, now, plan_ids=[plan.id])
    return plan


def _reschedule(
    session: Session,
    plan: InterventionPlan,
    review: InterventionReview,
    new_date: date,
    now: datetime,
) -> InterventionReview:
    """Move the pending review to `new_date`, and its task, if open, to the matching dates.

    A task stays tied to its review for good (the engine keys it by its target), so an
    open task is moved rather than replaced: it gets the schedule of its new opening day,
    and its reminders start again.
    """
    clash = session.scalar(
        select(InterventionReview.id).where(
            InterventionReview.plan_id == plan.id,
            InterventionReview.due_on == new_date,
            InterventionReview.id != review.id,
        )
    )
    if clash is not None:
        message = _(
            "review_date_taken",
            default="This plan already had a review on ${date}; choose another day.",
            mapping={"date": new_date.strftime("%d/%m/%Y")},
        )
        raise InvalidInput(message, {"review_on": message})
    review.due_on = new_date
    task = session.get(Task, review.task_id) if review.task_id else None
    if task is None or not task.is_pending:
        return review
    schedule = session.get(TaskSchedule, task.schedule_id)
    definition = session.get(CycleDefinition, schedule.definition_id)
    tenant = session.get(OrgUnit, definition.tenant_id)
    school = plan.student.school
    calendar = TenantCalendar.load(session, tenant, new_date)
    signature, days = calendar.school_days(school.path)
    opening = shift_school_days(days, new_date, -definition.due_after_school_days)
    new_schedule = get_or_create_schedule(
        session, definition, opening, signature, days, calendar.zone, now
    )
    task.opens_on = opening
    task.reminders_sent = 0
    cycles.move_task(task, new_schedule, now)
    return review


def record_review(
    session: Session,
    review: InterventionReview,
    values: dict,
    *,
    actor: Actor,
    now: datetime,
) -> InterventionReview:
    """Record a review: progress, whether the concern is resolved, then the next review or closure."""
    plan = review.plan
    _require_active(plan)
    if review.reviewed_at is not None:
        raise Locked(_("review_done", default="This review is already recorded."))
    school = plan.student.school
    today = local_today(now, school.timezone)
    close = bool(values.get("close_plan"))
    next_on = values.get("next_review_on")
    date_taken = next_on is not None and session.scalar(
        select(InterventionReview.id).where(
            InterventionReview.plan_id == plan.id, InterventionReview.due_on == next_on
        )
    )
    if not close and (
        next_on is None or next_on <= today or next_on > today + REVIEW_HORIZON or date_taken
    ):
        message = _(
            "next_review_invalid",
            default="Give a next review date after today and within a year, or close the plan.",
        )
        raise InvalidInput(message, {"next_review_on": message})

    review.progress = values["progress"]
    review.flag_resolved = bool(values.get("flag_resolved"))
    review.reviewed_by_id = actor.user_id
    review.reviewed_at = now
    if review.task_id is not None:
        task = session.get(Task, review.task_id)
        if task.is_pending:
            tasks.move(session, task, "submit", actor=actor, now=now)
            tasks.move(
                session,
                task,
                "approve",
                actor=Actor.system(),
                now=now,
                comment="A plan review needs no sign-off: the plan's history keeps it.",
            )
    if close:
        plan.state = PlanState.CLOSED
        plan.closed_at = now
    else:
        plan.review_on = next_on
        plan.reviews.append(InterventionReview(due_on=next_on, progress=""))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=AuditAction.UPDATE,
        entity_type="intervention_review",
        entity_id=review.id,
        student_id=plan.student_id,
        org_unit_id=school.id,
        now=now,
        changes={
            "progress": {"before": "", "after": review.progress},
            "flag_resolved": {"before": None, "after": review.flag_resolved},
            "plan_state": {"before": PlanState.ACTIVE.value, "after": plan.state.value},
            "next_review_on": {"before": None, "after": next_on.isoformat() if next_on else None},
        },
    )
    if not close:
        open_due_reviews(session, now, plan_ids=[plan.id])
    return review


# Opening review tasks on the engine.


def open_due_reviews(
    session: Session,
    now: datetime,
    *,
    school_ids: Sequence[int] | None = None,
    plan_ids: Sequence[int] | None = None,
) -> int:
    """Open the task of each pending review whose opening day has come; return how many opened.

    A school whose tenant has no INTERVENTION_REVIEW definition gets no task; its reviews
    wait (logged) until an administrator adds one.
    """
    query = (
        select(InterventionReview, InterventionPlan, Student)
        .join(InterventionPlan, InterventionPlan.id == InterventionReview.plan_id)
        .join(Student, Student.id == InterventionPlan.student_id)
        .where(
            InterventionReview.task_id.is_(None),
            InterventionReview.reviewed_at.is_(None),
            InterventionPlan.state == PlanState.ACTIVE,
            InterventionReview.due_on <= local_today(now) + OPENING_LOOKAHEAD,
        )
        .order_by(InterventionReview.due_on, InterventionReview.id)
    )
    if school_ids is not None:
        query = query.where(Student.school_id.in_(list(school_ids)))
    if plan_ids is not None:
        query = query.where(InterventionPlan.id.in_(list(plan_ids)))
    candidates = session.execute(query).all()
    if not candidates:
        return 0

    schools = {
        school.id: school
        for school in session.scalars(
            select(OrgUnit).where(
                OrgUnit.id.in_({student.school_id for _r, _p, student in candidates})
            )
        )
    }
    first = min(review.due_on for review, _p, _s in candidates) - OPENING_LOOKAHEAD
    last = max(review.due_on for review, _p, _s in candidates) + timedelta(days=30)
    days_of = {
        school_id: group.days
        for group in school_day_groups(session, list(schools.values()), first, last)
        for school_id in group.school_ids
    }
    sections = dict(
        session.execute(
            select(Enrollment.student_id, Enrollment.section_id).where(
                Enrollment.student_id.in_({student.id for _r, _p, student in candidates}),
                Enrollment.ends_on.is_(None),
            )
        ).all()
    )
    definitions: dict[int, object] = {}
    opened = 0
    for review, plan, student in candidates:
        school = schools[student.school_id]
        if school.id not in definitions:
            definitions[school.id] = cycles.definition_for(
                session, CycleKind.INTERVENTION_REVIEW, school
            )
        definition = definitions[school.id]
        if definition is None:
            log.warning(
                "review_without_definition", extra={"school_id": school.id, "review_id": review.id}
            )
            continue
        opening = shift_school_days(
            days_of.get(school.id, ()), review.due_on, -definition.due_after_school_days
        )
        if opening > local_today(now, school.timezone):
            continue
        task = cycles.open_record_task(
            session,
            kind=CycleKind.INTERVENTION_REVIEW,
            target_type="intervention_review",
            target_id=review.id,
            school=school,
            assignee_id=plan.owner_id,
            opens_on=opening,
            now=now,
            section_id=sections.get(student.id),
        )
        review.task_id = task.id
        opened += 1
    session.flush()
    return opened


# Reading plans.


def student_plans(session: Session, student_id: int) -> list[InterventionPlan]:
    """Return the student's plans, newest first, with their reviews and owners."""
    return list(
        session.scalars(
            select(InterventionPlan)
            .options(
                selectinload(InterventionPlan.reviews),
                selectinload(InterventionPlan.owner),
            )
            .where(InterventionPlan.student_id == student_id)
            .order_by(InterventionPlan.created_at.desc(), InterventionPlan.id.desc())
        )
    )


@dataclass
class PlanRow:
    plan: InterventionPlan
    student: Student
    section: Section | None


def active_plans(
    session: Session, *, school_id: int | None = None, section_id: int | None = None
) -> list[PlanRow]:
    """Return the active plans of a school's or a section's students, by next review date."""
    query = (
        select(InterventionPlan, Student, Section)
        .join(Student, Student.id == InterventionPlan.student_id)
        .outerjoin(Enrollment, (Enrollment.student_id == Student.id) & Enrollment.ends_on.is_(None))
        .outerjoin(Section, Section.id == Enrollment.section_id)
        .options(selectinload(InterventionPlan.owner))
        .where(InterventionPlan.state == PlanState.ACTIVE)
        .order_by(InterventionPlan.review_on, Student.name_en)
    )
    if school_id is not None:
        query = query.where(Student.school_id == school_id)
    if section_id is not None:
        query = query.where(Enrollment.section_id == section_id)
    return [PlanRow(plan, student, section) for plan, student, section in session.execute(query)]


def review_tasks(session: Session, plan: InterventionPlan) -> dict[int, Task]:
    """Return the tasks of the plan's reviews, by review id."""
    task_ids = [review.task_id for review in plan.reviews if review.task_id]
    if not task_ids:
        return {}
    found = {task.id: task for task in session.scalars(select(Task).where(Task.id.in_(task_ids)))}
    return {review.id: found[review.task_id] for review in plan.reviews if review.task_id in found}
