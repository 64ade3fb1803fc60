"""A head teacher signs in, opens a student's profile in Urdu and edits it in Urdu."""

import pytest
from builders import PASSWORD
from conftest import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[name=save]")
    page.wait_for_url(f"{base_url}/")


def switch_to_urdu(page) -> None:
    """Press the Urdu button of the menu bar, unless the page is in Urdu already."""
    if page.locator("button[value=ur]").count():
        page.click("button[value=ur]")


def test_urdu_profile_round_trip(page, live_server, live_world):
    student_id = live_world["ids"]["student_a9"]
    sign_in(page, live_server, "head.a")

    switch_to_urdu(page)
    page.goto(f"{live_server}/students/{student_id}")

    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("document.documentElement.lang") == "ur"
    body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Nastaliq Urdu" in body_font
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('20px \"Noto Nastaliq Urdu\"', 'عائشہ')")
    assert page.inner_text("#student-name") == "عائشہ خان"
    heading_box = page.locator("#identity h2").bounding_box()
    card_box = page.locator("#identity").bounding_box()
    # Right-to-left: the card's heading starts at the right edge of the card.
    assert heading_box["x"] + heading_box["width"] > card_box["x"] + card_box["width"] - 40

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "urdu-profile.png"), full_page=True)

    # Edit the Urdu name and come back to the profile.
    page.click("#edit-student")
    page.fill("input[name=name_ur]", "عائشہ صدیقہ")
    page.click("button[name=save]")
    page.wait_for_url(f"{live_server}/students/{student_id}")
    assert page.inner_text("#student-name") == "عائشہ صدیقہ"
    assert page.evaluate("document.documentElement.dir") == "rtl"


def test_urdu_error_message_in_browser(page, live_server, live_world):
    student_id = live_world["ids"]["student_a9"]
    sign_in(page, live_server, "head.a")
    switch_to_urdu(page)
    page.goto(f"{live_server}/students/{student_id}/edit")
    page.fill("input[name=date_of_birth]", "31/02/2011")
    page.fill("input[name=name_en]", "")
    page.click("button[name=save]")
    errors = page.inner_text("form#record-form")
    assert "فروری" in errors
    assert "ضروری ہے" in errors
    page.screenshot(path=str(ARTIFACTS / "urdu-form-errors.png"), full_page=True)
