"""Starter data for a new tenant: the subject catalogue of Punjab's public schools."""

from datetime import datetime

from sqlalchemy.orm import Session

from spets.models import OrgUnit, Subject
from spets.services.audit import Actor
from spets.services.org import save_subject

# (code, English name, Urdu name, counts as a core subject)
STARTER_SUBJECTS = (
    ("URDU", "Urdu", "اردو", True),
    ("ENG", "English", "انگریزی", True),
    ("MATH", "Mathematics", "ریاضی", True),
    ("GSCI", "General Science", "جنرل سائنس", True),
    ("PHY", "Physics", "طبیعیات", False),
    ("CHEM", "Chemistry", "کیمیا", False),
    ("BIO", "Biology", "حیاتیات", False),
    ("ISL", "Islamiyat", "اسلامیات", True),
    ("PAKST", "Pakistan Studies", "مطالعہ پاکستان", True),
    ("CS", "Computer Science", "کمپیوٹر سائنس", False),
)


def add_starter_subjects(
    session: Session, tenant: OrgUnit, *, actor: Actor, now: datetime
) -> list[Subject]:
    return [
        save_subject(
            session,
            tenant_id=tenant.id,
            subject=None,
            values={"code": code, "name_en": name_en, "name_ur": name_ur, "is_core": core},
            version=None,
            actor=actor,
            now=now,
        )
        for code, name_en, name_ur, core in STARTER_SUBJECTS
    ]
