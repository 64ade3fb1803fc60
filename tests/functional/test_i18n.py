"""English and Urdu: complete catalogues, right-to-left Urdu pages, translated errors."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select

from spets.models import User

LOCALE_DIR = Path(__file__).resolve().parents[2] / "webapp" / "locale"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
URDU_LETTER = re.compile(r"[\u0600-\u06FF]")


def catalogue(domain: str):
    with (LOCALE_DIR / "ur" / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return read_po(handle)


def english_text(message) -> str:
    for comment in message.auto_comments:
        if comment.startswith("Default:"):
            default = " ".join(message.auto_comments[message.auto_comments.index(comment) :])
            return default.removeprefix("Default:").strip()
    return message.id


@pytest.mark.parametrize("domain", ["spets", "colander", "deform"])
def test_catalogue_complete(domain):
    missing = [m.id for m in catalogue(domain) if m.id and not m.string]
    assert missing == []


@pytest.mark.parametrize("domain", ["spets", "colander", "deform"])
def test_placeholders_kept(domain):
    wrong = []
    for message in catalogue(domain):
        if not message.id:
            continue
        if set(PLACEHOLDER.findall(english_text(message))) != set(
            PLACEHOLDER.findall(message.string)
        ):
            wrong.append(message.id)
    assert wrong == []


def test_every_source_message_in_catalogue():
    """The .pot extracted from the code and templates has no message the Urdu catalogue lacks."""
    with (LOCALE_DIR / "spets.pot").open("rb") as handle:
        template = read_po(handle)
    translated = {m.id for m in catalogue("spets")}
    assert sorted({m.id for m in template if m.id} - translated) == []


def test_catalogue_matches_the_code(tmp_path):
    """Extract the messages from the code and templates now: none may be missing in Urdu."""
    import shutil
    import subprocess
    import sys

    pot_create = Path(sys.executable).with_name("pot-create")
    if not pot_create.exists():
        pot_create = Path(shutil.which("pot-create"))
    root = LOCALE_DIR.parents[1]
    target = tmp_path / "fresh.pot"
    subprocess.run(
        [str(pot_create), "-o", str(target), "-d", "spets", "models", "forms", "services"]
        + ["webapp", "demo"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    with target.open("rb") as handle:
        fresh = {m.id for m in read_po(handle) if m.id}
    translated = {m.id for m in catalogue("spets") if m.id and m.string}
    assert sorted(fresh - translated) == []


def use_urdu(testapp, world, username="head.a"):
    user = world.session.scalar(select(User).where(User.username == username))
    user.locale = "ur"
    world.session.flush()
    testapp.login(username)


def test_urdu_page_is_right_to_left(testapp, world):
    use_urdu(testapp, world)
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert '<html lang="ur" dir="rtl"' in page.text
    assert "bootstrap.rtl.min.css" in page.text
    assert "Noto Nastaliq Urdu" in page.text
    assert "داخلہ نمبر" in page.text
    assert "عائشہ خان" in page.text


def test_language_switch_sets_user_language(testapp, world):
    testapp.login("head.a")
    testapp.post_with_csrf("/language", {"locale": "ur", "came_from": "/students"}, status=302)
    world.session.refresh(world.head_a)
    assert world.head_a.locale == "ur"
    assert 'dir="rtl"' in testapp.get("/students").text


def test_language_switch_rejects_foreign_redirect(testapp, world):
    testapp.login("head.a")
    response = testapp.post_with_csrf(
        "/language", {"locale": "ur", "came_from": "https://evil.example/"}, status=302
    )
    assert response.location in ("http://localhost/", "/")


def test_anonymous_language_cookie(testapp):
    testapp.app.reset()
    testapp.app.set_cookie("spets_locale", "ur")
    page = testapp.get("/login")
    assert 'dir="rtl"' in page.text
    assert "لاگ اِن" in page.text


def test_form_errors_in_urdu_with_values(testapp, world):
    use_urdu(testapp, world)
    page = testapp.get(f"/sections/{world.section_a9.id}/students/new")
    form = page.forms["record-form"]
    form["admission_no"] = "A960"
    form["name_en"] = ""
    form["name_ur"] = "ثنا"
    form["father_name_en"] = "Ali"
    form["father_name_ur"] = "علی"
    form["date_of_birth"] = "31/02/2011"
    form["gender"] = "female"
    form["admitted_on"] = "01/12/2026"
    result = form.submit("save", status=200)
    assert "ضروری ہے" in result.text  # colander's "Required"
    assert "31/02/2011" in result.text
    assert "فروری" in result.text  # the month inside the message is translated too
    assert "February" not in result.text


def test_profile_labels_translated(testapp, world):
    use_urdu(testapp, world)
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "Enrollment history" not in page.text
    assert "Identity" not in page.text
    english_left = [
        word for word in ("Edit", "Father's name", "Date of birth") if f">{word}<" in page.text
    ]
    assert english_left == []


def test_urdu_text_round_trips(testapp, world):
    use_urdu(testapp, world)
    page = testapp.get(f"/students/{world.student_a9.id}/edit")
    form = page.forms["record-form"]
    form["name_ur"] = "عائشہ صدیقہ"
    form.submit("save", status=302)
    assert "عائشہ صدیقہ" in testapp.get(f"/students/{world.student_a9.id}").text
