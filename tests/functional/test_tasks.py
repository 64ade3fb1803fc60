"""Task pages: my tasks, sign-off, returns, escalations, notifications and cycle settings."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from spets.models import Channel, CycleDefinition, Notification, Task, TaskState
from spets.services import cycles, engine, messaging, tasks
from spets.services.audit import Actor
from spets.services.messaging import InAppSender, Senders

KARACHI = ZoneInfo("Asia/Karachi")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=KARACHI).astimezone(UTC)


@pytest.fixture
def task_world(world, clock):
    world.definition = cycles.add_default_definitions(
        world.session, world.tenant, actor=Actor.system(), now=world.now
    )
    clock.set(local(2026, 10, 5, 10, 0))
    cycles.tick(world.session, local(2026, 10, 1, 0, 15))
    world.task = world.session.scalars(
        select(Task).where(Task.assignee_id == world.subject_teacher_a9.id)
    ).one()
    world.session.flush()
    return world


def test_my_tasks_lists_own_tasks(testapp, task_world):
    testapp.login("subject.a9")
    page = testapp.get("/tasks")
    assert "Quarterly subject feedback" in page.text
    assert "13/10/2026" in page.text
    testapp.login("teacher.a10")
    assert "Quarterly subject feedback" not in testapp.get("/tasks").text


def test_home_counts_open_late_and_sign_off(testapp, task_world, clock):
    testapp.login("subject.a9")
    summary = testapp.get("/").html.find(id="home-task-summary").text
    assert "Open tasks: 1" in summary
    assert "Late" not in summary

    clock.set(local(2026, 10, 14, 9, 0))  # the day after the due date
    summary = testapp.get("/").html.find(id="home-task-summary").text
    assert "Late: 1" in summary

    submit(task_world)
    testapp.login("head.a")
    summary = testapp.get("/").html.find(id="home-task-summary").text
    assert "Waiting for your sign-off: 1" in summary


def test_other_teacher_cannot_open_task(testapp, task_world):
    testapp.login("teacher.a10")
    testapp.get(f"/tasks/{task_world.task.id}", status=404)
    testapp.login("teacher.b9")
    testapp.get(f"/tasks/{task_world.task.id}", status=404)


def test_head_teacher_of_other_school_gets_404(testapp, task_world):
    testapp.login("head.b")
    testapp.get(f"/tasks/{task_world.task.id}", status=404)
    testapp.post_with_csrf(f"/tasks/{task_world.task.id}/approve", status=404)


def submit(world):
    tasks.submit_task(
        world.session,
        world.task,
        actor=Actor(world.subject_teacher_a9.id),
        now=local(2026, 10, 5, 9, 0),
    )
    world.session.flush()


def test_signoff_queue_and_approve(testapp, task_world):
    submit(task_world)
    testapp.login("head.a")
    queue = testapp.get("/signoff")
    assert "Subject A9" in queue.text
    page = testapp.get(f"/tasks/{task_world.task.id}")
    form = next(f for f in page.forms.values() if f.action.endswith("/approve"))
    form.submit(status=302)
    task_world.session.refresh(task_world.task)
    assert task_world.task.state == TaskState.APPROVED
    assert task_world.task.decided_by_id == task_world.head_a.id


def test_subject_teacher_cannot_approve(testapp, task_world):
    submit(task_world)
    testapp.login("subject.a9")
    testapp.post_with_csrf(f"/tasks/{task_world.task.id}/approve", status=403)
    task_world.session.refresh(task_world.task)
    assert task_world.task.state == TaskState.SUBMITTED


def test_return_with_comment(testapp, task_world):
    submit(task_world)
    testapp.login("head.a")
    empty = testapp.submit_form(f"/tasks/{task_world.task.id}/return", {"comment": ""}, status=200)
    assert "Required" in empty.text
    testapp.submit_form(
        f"/tasks/{task_world.task.id}/return", {"comment": "Add planned actions"}, status=302
    )
    task_world.session.refresh(task_world.task)
    assert task_world.task.state == TaskState.RETURNED
    testapp.login("subject.a9")
    assert "Add planned actions" in testapp.get(f"/tasks/{task_world.task.id}").text


def test_approving_twice_is_refused_with_message(testapp, task_world):
    submit(task_world)
    testapp.login("head.a")
    page = testapp.get(f"/tasks/{task_world.task.id}")
    form = next(f for f in page.forms.values() if f.action.endswith("/approve"))
    form.submit(status=302)
    again = form.submit(status=302).follow()
    assert "Someone else saved this task" in again.text or "Only a submitted task" in again.text


def test_escalations_page_for_head_teacher(testapp, task_world):
    engine.sweep_escalations(task_world.session, local(2026, 10, 14, 0, 30))
    task_world.session.flush()
    testapp.login("head.a")
    page = testapp.get("/escalations")
    assert "Subject A9" in page.text
    testapp.login("head.b")
    assert "Subject A9" not in testapp.get("/escalations").text


def test_notification_badge_and_mark_read(testapp, task_world, session_factory):
    submit(task_world)
    messaging.deliver_pending(
        session_factory, Senders({Channel.IN_APP: InAppSender()}), local(2026, 10, 5, 9, 5)
    )
    testapp.login("head.a")
    home = testapp.get("/")
    assert 'id="unread-count">1<' in home.text
    page = testapp.get("/notifications")
    assert "A task waits for your sign-off" in page.text
    page.forms[
        next(
            k
            for k, f in page.forms.items()
            if "notification_id" not in f.fields and f.action.endswith("/notifications/read")
        )
    ].submit(status=302)
    assert (
        task_world.session.scalars(select(Notification).where(Notification.read_at.is_(None))).all()
        == []
    )


def test_cycle_settings_refuse_impossible_offsets(testapp, task_world):
    testapp.login("admin")
    definition = task_world.session.scalars(select(CycleDefinition)).one()
    page = testapp.submit_form(
        f"/admin/cycles/{definition.id}/edit", {"reminder_offsets": "-3, 2"}, status=200
    )
    assert "after the first escalation" in page.text
    page = testapp.submit_form(
        f"/admin/cycles/{definition.id}/edit", {"escalation_days": "0, 5, 3"}, status=200
    )
    assert "not increasing" in page.text
    testapp.submit_form(
        f"/admin/cycles/{definition.id}/edit", {"due_after_school_days": "8"}, status=302
    )
    task_world.session.refresh(definition)
    assert definition.due_after_school_days == 8


def test_cycle_settings_admin_only(testapp, task_world):
    definition = task_world.session.scalars(select(CycleDefinition)).one()
    testapp.login("head.a")
    testapp.get(f"/admin/cycles/{definition.id}/edit", status=404)
    testapp.get("/admin/cycles", status=403)
