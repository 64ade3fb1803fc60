"""The change feed on PostgreSQL: what the triggers announce on commit, and the stored
results page the feed lets through without a statement until a change reaches it.

These tests need committed data (NOTIFY fires on commit), so they run on a database of
their own, and only on PostgreSQL: SQLite has no NOTIFY and checks every request instead.
"""

import time

import psycopg
import pytest
import webtest
from builders import World
from conftest import ROOT, engine_of, migrated_database
from helpers import Browser, count_statements
from portal_builders import ASLAM_PHONE, build_family
from sqlalchemy import insert, update

from spets.db import make_session_factory
from spets.models import (
    GradeBand,
    GuardianAccount,
    MessageThread,
    OrgUnit,
    PublishedMark,
    RoleAssignment,
    Student,
    StudentGuardian,
    ThreadMessage,
    User,
)
from spets.services import results
from spets.services.audit import Actor
from spets.webapp.change_feed import CHANNEL


@pytest.fixture(scope="module")
def committed(request, tmp_path_factory, clock):
    """The Aslam family, committed: a guardian account and published results."""
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("the change feed listens to PostgreSQL's NOTIFY; SQLite has none")
    with migrated_database("postgresql", tmp_path_factory) as url:
        engine = engine_of(url)
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            family = build_family(World.build(session, clock()))
        yield {"url": url, "engine": engine, "factory": factory, "family": family}
        engine.dispose()


def conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def listener(committed):
    with psycopg.connect(conninfo(committed["url"]), autocommit=True) as connection:
        connection.execute(f"LISTEN {CHANNEL}")
        yield connection


def commit(committed, statement) -> None:
    with committed["factory"]() as session, session.begin():
        session.execute(statement)


def announced(listener) -> set[str]:
    return {note.payload for note in listener.notifies(timeout=0.5)}


# Every write that changes a results page is announced, from any writer.

WRITES = {
    "account": lambda f: (
        update(User).where(User.id == f.aslam_user.id).values(locale=User.locale),
        {f"u:{f.aslam_user.id}"},
    ),
    "role": lambda f: (
        update(RoleAssignment)
        .where(RoleAssignment.user_id == f.aslam_user.id)
        .values(valid_from=RoleAssignment.valid_from),
        {f"u:{f.aslam_user.id}"},
    ),
    "guardian account": lambda f: (
        update(GuardianAccount)
        .where(GuardianAccount.user_id == f.aslam_user.id)
        .values(guardian_id=GuardianAccount.guardian_id),
        {f"u:{f.aslam_user.id}"},
    ),
    "link to a child": lambda f: (
        update(StudentGuardian)
        .where(StudentGuardian.id == f.guardian_link_a9.id)
        .values(relation=StudentGuardian.relation),
        {f"s:{f.student_a9.id}", f"u:{f.aslam_user.id}"},
    ),
    "published mark": lambda f: (
        update(PublishedMark)
        .where(PublishedMark.student_id == f.student_a9.id)
        .values(marks=PublishedMark.marks),
        {f"s:{f.student_a9.id}"},
    ),
    "student": lambda f: (
        update(Student).where(Student.id == f.student_a9.id).values(name_en=Student.name_en),
        {f"s:{f.student_a9.id}"},
    ),
    "grade scale": lambda f: (
        insert(GradeBand).values(tenant_id=f.tenant.id, grade="T", min_percent=0, passing=False),
        {f"t:{f.tenant.id}"},
    ),
    "org unit": lambda f: (
        update(OrgUnit).where(OrgUnit.id == f.school_a.id).values(name_en=OrgUnit.name_en),
        {"x"},
    ),
}


@pytest.mark.parametrize("write", WRITES)
def test_write_announced_on_commit(committed, listener, write):
    statement, expected = WRITES[write](committed["family"])
    commit(committed, statement)

    assert expected <= announced(listener)


def test_new_message_announced_to_accounts(committed, listener):
    family = committed["family"]
    with committed["factory"]() as session, session.begin():
        thread = MessageThread(
            student_id=family.student_a9.id,
            guardian_id=family.aslam.id,
            staff_id=family.class_teacher_a9.id,
            subject="Attendance",
            created_at=family.now,
            updated_at=family.now,
        )
        session.add(thread)
        session.flush()
        session.add(
            ThreadMessage(
                thread_id=thread.id,
                author_id=family.class_teacher_a9.id,
                body="Please come on Monday.",
                created_at=family.now,
            )
        )

    assert f"u:{family.aslam_user.id}" in announced(listener)


def test_rollback_announces_nothing(committed, listener):
    family = committed["family"]
    with committed["factory"]() as session:
        session.execute(update(User).where(User.id == family.aslam_user.id).values(locale="en"))
        session.rollback()

    assert announced(listener) == set()


# The stored page, vouched for by the feed.


@pytest.fixture
def app(committed, app_settings):
    from spets.webapp import main

    settings = {**app_settings, "spets.dbsession_factory": committed["factory"]}
    wsgi_app = main({"here": str(ROOT)}, **settings)
    yield wsgi_app
    wsgi_app.registry["spets.change_feed"].stop()


def test_feed_skips_statements_until_amendment(committed, app):
    family = committed["family"]
    browser = Browser(webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}))
    browser.login(ASLAM_PHONE.replace("+92", "0"))
    feed = app.registry["spets.change_feed"]
    pages = app.registry["spets.results_page_cache"]
    url = f"/portal/children/{family.student_a9.id}/results"

    assert "23 / 25" in browser.get(url).text  # rendered, stored, and the feed started
    assert _listening(feed)
    browser.get(url)  # checked once more, now with the feed listening
    assert count_statements(committed["engine"], lambda: browser.get(url)) == 0
    hits = pages.hits

    sequence = feed.sequence
    _approve_amendment(committed, family)
    assert feed.wait_for(sequence + 1, timeout=5), "the amendment was never announced"

    page = browser.get(url).text
    assert "24 / 25" in page
    assert "23 / 25" not in page
    assert pages.hits == hits


def _listening(feed, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not feed.listening and time.monotonic() < deadline:
        time.sleep(0.01)
    return feed.listening


def _approve_amendment(committed, family) -> None:
    with committed["factory"]() as session, session.begin():
        sheet = session.get(type(family.maths_sheet), family.maths_sheet.id)
        amendment = results.request_amendment(
            session,
            sheet,
            family.student_a9.id,
            "24",
            "The marks were added up wrongly.",
            actor=Actor(family.subject_teacher_a9.id),
            now=family.now,
        )
        results.decide_amendment(
            session, amendment, True, "", actor=Actor(family.head_a.id), now=family.now
        )


def test_page_checked_while_feed_down(committed, app):
    family = committed["family"]
    browser = Browser(webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}))
    browser.login(ASLAM_PHONE.replace("+92", "0"))
    feed = app.registry["spets.change_feed"]
    url = f"/portal/children/{family.student_a9.id}/results"
    browser.get(url)
    assert _listening(feed)
    feed.stop()
    feed.listening = False

    assert count_statements(committed["engine"], lambda: browser.get(url)) == 1
