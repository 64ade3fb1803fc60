"""School days derived from the calendar: weekly days off, holidays and closures per subtree."""

from datetime import date

import pytest

from spets.models import DayOff, DayOffKind
from spets.services import calendar
from spets.services.audit import Actor
from spets.services.errors import InvalidInput

SYSTEM = Actor.system()


def add_closure(world, unit, first, last, kind=DayOffKind.CLOSURE, name="Flood closure"):
    return calendar.save_day_off(
        world.session,
        None,
        {
            "kind": kind,
            "name_en": name,
            "name_ur": "بندش",
            "starts_on": first,
            "ends_on": last,
            "org_unit_id": unit.id,
        },
        version=None,
        actor=SYSTEM,
        now=world.now,
    )


def test_year_label_and_bounds():
    assert calendar.year_label(2025) == "2025-26"
    assert calendar.year_label(2099) == "2099-00"
    assert calendar.year_bounds(2026) == (date(2026, 4, 1), date(2027, 3, 31))


def test_start_year_of_march_and_april():
    assert calendar.start_year_of(date(2027, 3, 31)) == 2026
    assert calendar.start_year_of(date(2027, 4, 1)) == 2027


def test_year_has_four_quarters(world):
    quarters = [(q.number, q.starts_on, q.ends_on) for q in world.year.quarters]
    assert quarters == [
        (1, date(2026, 4, 1), date(2026, 6, 30)),
        (2, date(2026, 7, 1), date(2026, 9, 30)),
        (3, date(2026, 10, 1), date(2026, 12, 31)),
        (4, date(2027, 1, 1), date(2027, 3, 31)),
    ]


def test_gazetted_holidays_added_once(world):
    names = {d.name_en for d in calendar.days_off_in_year(world.session, world.year)}
    assert {"Independence Day", "Iqbal Day", "Quaid-e-Azam Day", "Pakistan Day"} <= names
    again = calendar.add_gazetted_holidays(
        world.session, world.tenant, world.year.starts_on, world.year.ends_on, now=world.now
    )
    assert again == 0


def test_gazetted_holiday_has_urdu_name(world):
    independence = next(
        d
        for d in calendar.days_off_in_year(world.session, world.year)
        if d.name_en == "Independence Day"
    )
    assert independence.name_ur == "یومِ آزادی"
    assert independence.kind == DayOffKind.GAZETTED


def test_eid_days_grouped_into_one_range(world):
    eid = [
        d
        for d in calendar.days_off_in_year(world.session, world.year)
        if d.name_en == "Eid al-Adha"
    ]
    assert [(d.starts_on, d.ends_on) for d in eid] == [(date(2026, 5, 26), date(2026, 5, 27))]


def test_school_days_skip_sundays(world):
    # Monday 2 November to Sunday 8 November 2026: six school days, Iqbal Day (9 Nov) is after.
    days = calendar.school_days(world.session, world.school_a, date(2026, 11, 2), date(2026, 11, 8))
    assert days == [date(2026, 11, d) for d in range(2, 8)]


def test_school_days_skip_gazetted_holiday(world):
    days = calendar.school_days(
        world.session, world.school_a, date(2026, 11, 9), date(2026, 11, 10)
    )
    assert days == [date(2026, 11, 10)]


def test_closure_applies_to_subtree_only(world):
    add_closure(world, world.district_a, date(2026, 11, 16), date(2026, 11, 18))
    in_a = calendar.school_days(
        world.session, world.school_a, date(2026, 11, 16), date(2026, 11, 18)
    )
    in_b = calendar.school_days(
        world.session, world.school_b, date(2026, 11, 16), date(2026, 11, 18)
    )
    assert in_a == []
    assert len(in_b) == 3


def test_closure_of_one_school(world):
    add_closure(
        world, world.school_b, date(2026, 11, 17), date(2026, 11, 17), name="Polling station"
    )
    assert calendar.is_school_day(world.session, world.school_a, date(2026, 11, 17))
    assert not calendar.is_school_day(world.session, world.school_b, date(2026, 11, 17))


def test_days_outside_any_year_are_not_school_days(world):
    assert (
        calendar.school_days(world.session, world.school_a, date(2030, 1, 1), date(2030, 1, 31))
        == []
    )


def test_saturday_off_when_configured(world):
    world.year.weekly_off_days = "6,7"
    days = calendar.school_days(world.session, world.school_a, date(2026, 11, 2), date(2026, 11, 8))
    assert days == [date(2026, 11, d) for d in range(2, 7)]


def test_add_school_days(world):
    school_calendar = calendar.school_calendar(
        world.session, world.school_a, date(2026, 11, 1), date(2026, 11, 30)
    )
    # From Friday 6 November: Sat 7, (Sun 8), (Mon 9 Iqbal Day), Tue 10, Wed 11.
    assert school_calendar.add_school_days(date(2026, 11, 6), 3) == date(2026, 11, 11)
    assert school_calendar.add_school_days(date(2026, 11, 8), 0) == date(2026, 11, 10)


def test_closure_end_before_start_rejected(world):
    with pytest.raises(InvalidInput) as caught:
        add_closure(world, world.school_a, date(2026, 11, 18), date(2026, 11, 16))
    assert "ends_on" in caught.value.field_errors


def test_duplicate_year_rejected(world):
    with pytest.raises(InvalidInput):
        calendar.create_year(world.session, world.tenant, 2026, actor=SYSTEM, now=world.now)


def test_quarter_overlap_rejected(world):
    first, second = world.year.quarters[:2]
    with pytest.raises(InvalidInput) as caught:
        calendar.update_quarter(
            world.session,
            first,
            first.starts_on,
            date(2026, 7, 15),
            version=first.version,
            actor=SYSTEM,
            now=world.now,
        )
    assert "overlap" in caught.value.message.interpolate()
    assert second.starts_on == date(2026, 7, 1)


def test_exam_window_outside_year_rejected(world):
    with pytest.raises(InvalidInput) as caught:
        calendar.save_exam_window(
            world.session,
            world.year,
            None,
            {
                "kind": "annual_exam",
                "name_en": "Annual",
                "name_ur": "سالانہ",
                "starts_on": date(2027, 3, 25),
                "ends_on": date(2027, 4, 5),
            },
            version=None,
            actor=SYSTEM,
            now=world.now,
        )
    assert "2026-27" in caught.value.message.interpolate()


def test_day_off_rows_keep_announcement_time(world):
    closure = add_closure(world, world.school_a, date(2026, 11, 20), date(2026, 11, 20))
    stored = world.session.get(DayOff, closure.id)
    assert stored.announced_at == world.now


def test_local_clock_shows_karachi_time():
    from datetime import UTC, datetime

    from spets.services.calendar import local_clock

    assert local_clock(datetime(2026, 12, 4, 22, 30, tzinfo=UTC)) == "05/12/2026 03:30"
    assert local_clock(datetime(2026, 12, 4, 22, 30)) == "05/12/2026 03:30"  # SQLite: UTC
    assert local_clock(None) == ""
