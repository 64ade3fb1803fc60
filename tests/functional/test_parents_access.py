"""Who reaches the parents pages: a guardian sees only their own children, staff their schools.

Another family's child answers 404 on every portal route, as do its threads, broadcasts
and bookings; staff never reach a child through the portal; staff of another school get
404 on the parents pages of a school.
"""

import re
from datetime import date, time

import pytest
from builders import PASSWORD, SYSTEM
from sqlalchemy import select

from spets.models import OutboxMessage, Relation
from spets.models.ptm import PtmSlot
from spets.services import guardians, people, portal, ptm, threads
from spets.services.audit import Actor

ASLAM = "03001234567"
NOOR = "03005556666"


@pytest.fixture(autouse=True)
def empty_portal_caches():
    """Each test rolls back, so ids repeat between tests; the caches must not carry over."""
    portal.RESULTS_CACHE.clear()
    portal.CHILDREN_CACHE.clear()
    yield
    portal.RESULTS_CACHE.clear()
    portal.CHILDREN_CACHE.clear()


def sign_up(session, guardian, phone, now):
    issued = guardians.issue_invitation(session, guardian, actor=SYSTEM, now=now)
    started = guardians.start_signup(
        session, issued.code, phone, client_addr=None, locale="ur", now=now
    )
    body = session.scalar(
        select(OutboxMessage.body).where(
            OutboxMessage.key == f"one-time-code:{started.one_time_code_id}:sms"
        )
    )
    otp = re.search(r"\d{6}", body).group(0)
    return guardians.complete_signup(session, started, otp, PASSWORD, client_addr=None, now=now)


@pytest.fixture
def records(world):
    """Two families with accounts and, in each school, a thread, a broadcast, a PTM booking
    and a proposed correction."""
    w, now = world, world.now
    w.zainab = w.admit(w.section_b9, "B902", "Zainab Aslam", "زینب اسلم")
    people.add_guardian(
        w.session,
        w.zainab,
        {"name_en": "Muhammad Aslam", "cnic": "36302-2222222-2", "relation": Relation.FATHER},
        actor=SYSTEM,
        now=now,
    )
    aslam, noor = w.guardian_link_a9.guardian, w.guardian_link_b9.guardian
    aslam_user = sign_up(w.session, aslam, "+923001234567", now)
    noor.phone = "+923005556666"
    noor_user = sign_up(w.session, noor, noor.phone, now)
    mother = people.add_guardian(
        w.session,
        w.student_b9,
        {"name_en": "Sakina Bibi", "phone": "+923009990000", "relation": Relation.MOTHER},
        actor=SYSTEM,
        now=now,
    ).guardian
    invitation = guardians.issue_invitation(w.session, mother, actor=SYSTEM, now=now).invitation

    found = {}
    for key, student, guardian, user, teacher, section, school, head in (
        (
            "A",
            w.student_a9,
            aslam,
            aslam_user,
            w.class_teacher_a9,
            w.section_a9,
            w.school_a,
            w.head_a,
        ),
        ("B", w.student_b9, noor, noor_user, w.teacher_b9, w.section_b9, w.school_b, w.head_b),
    ):
        thread = threads.start_thread(
            w.session,
            student=student,
            guardian_id=guardian.id,
            staff_id=teacher.id,
            author=user,
            subject=f"Thread {key}",
            body="Hello",
            now=now,
        )
        broadcast = threads.send_broadcast(
            w.session, section=section, author=teacher, subject=f"News {key}", body="x", now=now
        )
        ptm_day = ptm.save_day(
            w.session,
            unit=school,
            ptm_day=None,
            values={"day": date(2026, 12, 10), "name_en": "PTM", "name_ur": "میٹنگ"},
            version=None,
            actor=Actor(head.id),
            now=now,
        )
        ptm.open_slots(
            w.session,
            ptm_day=ptm_day,
            school=school,
            teacher=teacher,
            starts=time(9, 0),
            ends=time(9, 20),
            minutes=10,
            now=now,
        )
        slots = w.session.scalars(
            select(PtmSlot).where(PtmSlot.ptm_day_id == ptm_day.id).order_by(PtmSlot.starts_at)
        ).all()
        booking = ptm.book(
            w.session, slot=slots[0], student=student, guardian_id=guardian.id, user=user, now=now
        )
        link = guardians.link_of(w.session, user.id, student.id)
        correction = guardians.propose_correction(
            w.session, user=user, link=link, values={}, note="Wrong sibling class.", now=now
        )
        found[key] = {
            "student": student,
            "thread": thread,
            "broadcast": broadcast,
            "ptm_day": ptm_day,
            "free_slot": slots[1],
            "booking": booking,
            "correction": correction,
            "section": section,
            "link": link,
        }
    found["invitation"] = invitation
    w.session.flush()
    return found


def child_urls(student_id: int) -> dict[str, str]:
    base = f"/portal/children/{student_id}"
    return {
        "overview": base,
        "results": f"{base}/results",
        "report card": f"{base}/report-card.pdf",
        "feedback": f"{base}/feedback",
        "attendance": f"{base}/attendance",
        "health": f"{base}/health",
        "meetings": f"{base}/ptm",
        "messages": f"{base}/messages",
        "new message": f"{base}/messages/new",
        "new correction": f"{base}/corrections/new",
    }


def thread_urls(found) -> dict[str, str]:
    """The portal pages of a family's thread."""
    thread = found["thread"].id
    return {
        "portal thread": f"/portal/messages/{thread}",
        "portal thread csv": f"/portal/messages/{thread}/export.csv",
        "thread short link": f"/m/{thread}",
    }


def broadcast_urls(found) -> dict[str, str]:
    broadcast = found["broadcast"].id
    return {
        "portal broadcast": f"/portal/broadcasts/{broadcast}",
        "broadcast short link": f"/b/{broadcast}",
    }


def staff_urls(found) -> dict[str, str]:
    """The staff pages of a school's parents records."""
    section = found["section"].id
    return {
        "guardian accounts": f"/sections/{section}/guardian-accounts",
        "broadcasts": f"/sections/{section}/broadcasts",
        "broadcast": f"/broadcasts/{found['broadcast'].id}",
        "student messages": f"/students/{found['student'].id}/messages",
        "staff thread": f"/messages/{found['thread'].id}",
        "staff thread csv": f"/messages/{found['thread'].id}/export.csv",
        "ptm day": f"/ptm/{found['ptm_day'].id}",
        "ptm day edit": f"/ptm/{found['ptm_day'].id}/edit",
        "correction": f"/corrections/{found['correction'].id}",
    }


def post_urls(found, own_student_id: int) -> dict[str, tuple[str, dict]]:
    other = found["student"].id
    return {
        "book other child": (
            f"/portal/children/{other}/ptm/book",
            {"slot_id": found["free_slot"].id},
        ),
        "book other school's slot": (
            f"/portal/children/{own_student_id}/ptm/book",
            {"slot_id": found["free_slot"].id},
        ),
        "cancel other booking": (
            f"/portal/children/{other}/ptm/bookings/{found['booking'].id}/cancel",
            {},
        ),
        "cancel other booking via own child": (
            f"/portal/children/{own_student_id}/ptm/bookings/{found['booking'].id}/cancel",
            {},
        ),
        "reply in other thread": (f"/portal/messages/{found['thread'].id}", {"body": "hi"}),
        "new message about other child": (
            f"/portal/children/{other}/messages/new",
            {"body": "hi", "subject": "hi"},
        ),
        "correction for other child": (f"/portal/children/{other}/corrections/new", {"note": "x"}),
    }


def test_guardian_reaches_own_children(testapp, records):
    testapp.login(ASLAM)
    for student_id in (records["A"]["student"].id, zainab_in_school_b(records)):
        statuses = {
            name: testapp.get(url, expect_errors=True).status_int
            for name, url in child_urls(student_id).items()
        }
        # The report card needs an enrolment in the current year, which both children have.
        assert statuses == {name: 200 for name in statuses}, student_id
    own = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in {**thread_urls(records["A"]), **broadcast_urls(records["A"])}.items()
    }
    assert own == {
        "portal thread": 200,
        "portal thread csv": 200,
        "thread short link": 302,
        "portal broadcast": 200,
        "broadcast short link": 302,
    }


def zainab_in_school_b(records) -> int:
    from spets.models import Student

    session = records["A"]["student"]._sa_instance_state.session
    return session.scalar(select(Student.id).where(Student.admission_no == "B902"))


@pytest.mark.parametrize("username", [ASLAM, NOOR])
def test_other_family_answers_404_everywhere(testapp, records, username):
    own, other = ("A", "B") if username == ASLAM else ("B", "A")
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in {
            **child_urls(records[other]["student"].id),
            **thread_urls(records[other]),
            # School B's broadcast also reached Aslam, whose Zainab is in its section.
            **{k: v for k, v in staff_urls(records[other]).items() if k != "broadcast"},
            "own child as staff": f"/students/{records[own]['student'].id}",
            "invitation slip": f"/invitations/{records['invitation'].id}/revoke",
        }.items()
    }
    assert statuses == {name: 404 for name in statuses}

    posted = {
        name: testapp.post_with_csrf(url, params, expect_errors=True).status_int
        for name, (url, params) in post_urls(records[other], records[own]["student"].id).items()
    }
    assert posted == {name: 404 for name in posted}


@pytest.mark.parametrize("username", [ASLAM, NOOR])
def test_guardian_never_on_staff_pages(testapp, records, username):
    """Even for the guardian's own thread or broadcast, the staff pages are closed."""
    own = "A" if username == ASLAM else "B"
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in staff_urls(records[own]).items()
    }
    assert set(statuses.values()) <= {403, 404}, statuses


def test_broadcast_reaches_only_its_sections_guardians(testapp, records):
    # Noor Din has no child in 9-A of school A: its broadcast is not his.
    testapp.login(NOOR)
    urls = {**broadcast_urls(records["A"]), "staff": staff_urls(records["A"])["broadcast"]}
    for url in urls.values():
        assert testapp.get(url, expect_errors=True).status_int == 404, url
    # Muhammad Aslam's daughter Zainab is in 9-A of school B, so its broadcast reached him.
    testapp.login(ASLAM)
    assert testapp.get(broadcast_urls(records["B"])["portal broadcast"]).status_int == 200


def test_other_family_records_unchanged_by_posts(testapp, records, world):
    testapp.login(ASLAM)
    for url, params in post_urls(records["B"], records["A"]["student"].id).values():
        testapp.post_with_csrf(url, params, expect_errors=True)
    world.session.refresh(records["B"]["booking"])
    assert records["B"]["booking"].state.value == "confirmed"
    assert len(threads.thread_messages(world.session, records["B"]["thread"].id)) == 1


def test_guardian_has_no_staff_lists(testapp, records):
    testapp.login(ASLAM)
    for url in ("/messages", "/corrections", "/ptm", "/ptm/new", "/students", "/signoff"):
        assert testapp.get(url, expect_errors=True).status_int == 403, url


STAFF = [
    "admin",
    "ceo.a",
    "deo.a",
    "aeo.a",
    "head.a",
    "head.b",
    "class.a9",
    "subject.a9",
    "teacher.a10",
    "teacher.b9",
    "health.a",
    "counsellor.a",
    "admin.net",
]


@pytest.mark.parametrize("username", STAFF)
def test_staff_never_reach_portal_pages(testapp, records, username):
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in child_urls(records["A"]["student"].id).items()
    }
    assert statuses == {name: 404 for name in statuses}
    # Staff who take part in the thread or may write to the section see those records on
    # their own pages; the portal pages of them stay closed (403), for everyone else 404.
    for url in (
        f"/portal/messages/{records['A']['thread'].id}",
        f"/portal/broadcasts/{records['A']['broadcast'].id}",
    ):
        assert testapp.get(url, expect_errors=True).status_int in (403, 404), url


# Staff of another school: 404 on every parents page of the school.
OUTSIDE = [
    ("head.a", "B"),
    ("head.b", "A"),
    ("class.a9", "B"),
    ("subject.a9", "B"),
    ("teacher.a10", "B"),
    ("teacher.b9", "A"),
    ("aeo.a", "B"),
    ("deo.a", "B"),
    ("ceo.a", "B"),
    ("health.a", "A"),
    ("counsellor.a", "B"),
    ("admin.net", "A"),
    ("admin.net", "B"),
]


@pytest.mark.parametrize(("username", "school"), OUTSIDE)
def test_other_school_parents_pages_answer_404(testapp, records, username, school):
    testapp.login(username)
    statuses = {
        name: testapp.get(url, expect_errors=True).status_int
        for name, url in staff_urls(records[school]).items()
    }
    assert statuses == {name: 404 for name in statuses}


# (username, page): status for school A's records.
IN_SCOPE_EXPECTED = {
    ("head.a", "guardian accounts"): 200,
    ("head.a", "broadcasts"): 200,
    ("head.a", "broadcast"): 200,
    ("head.a", "student messages"): 200,
    ("head.a", "staff thread"): 404,  # not a participant
    ("head.a", "ptm day"): 200,
    ("head.a", "ptm day edit"): 200,
    ("head.a", "correction"): 200,
    ("class.a9", "guardian accounts"): 403,
    ("class.a9", "broadcasts"): 200,
    ("class.a9", "student messages"): 200,
    ("class.a9", "staff thread"): 200,
    ("class.a9", "staff thread csv"): 200,
    ("class.a9", "ptm day"): 200,
    ("class.a9", "ptm day edit"): 403,
    ("class.a9", "correction"): 200,
    ("subject.a9", "guardian accounts"): 403,
    ("subject.a9", "broadcasts"): 200,
    ("subject.a9", "staff thread"): 404,
    ("subject.a9", "correction"): 403,
    ("subject.a9", "ptm day"): 200,
    ("teacher.a10", "broadcasts"): 404,
    ("teacher.a10", "student messages"): 404,
    ("teacher.a10", "ptm day"): 200,
    ("aeo.a", "guardian accounts"): 403,
    ("aeo.a", "broadcasts"): 403,
    ("aeo.a", "correction"): 403,
    ("aeo.a", "ptm day"): 404,
    ("admin", "guardian accounts"): 200,
    ("admin", "ptm day edit"): 200,
    ("health.a", "correction"): 404,
}


@pytest.mark.parametrize(("key", "status"), sorted(IN_SCOPE_EXPECTED.items()))
def test_in_scope_parents_pages(testapp, records, key, status):
    username, name = key
    testapp.login(username)
    url = staff_urls(records["A"])[name]
    assert testapp.get(url, expect_errors=True).status_int == status


def test_portal_needs_sign_in(testapp, records):
    testapp.app.reset()
    for url in list(child_urls(records["A"]["student"].id).values()) + ["/portal", "/m/1"]:
        response = testapp.get(url, status=302)
        assert "/login?came_from=" in response.location, url
