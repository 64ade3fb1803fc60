"""A live server on 127.0.0.1 with committed data, and Debian's Chromium driven by Playwright."""

import threading
from pathlib import Path

import pytest
from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def live_server(live_world, app_settings):
    import waitress

    from spets.webapp import main

    settings = {
        **app_settings,
        "spets.dbsession_factory": live_world["factory"],
        "spets.imports.run_inline": "false",
    }
    app = main({"here": str(ROOT)}, **settings)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=5)
    feed = app.registry.get("spets.change_feed")
    if feed is not None:
        feed.stop()  # before its database is dropped


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make system-packages` to install Debian's chromium"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can see whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ur-PK")
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        _keep_failed_page(page, request.node.name)
    context.close()


def _keep_failed_page(page, test_name: str) -> None:
    """Save the page a failed test left behind (screenshot and HTML) and print where it was."""
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / f"failed-{test_name}"
    try:
        page.screenshot(path=f"{stem}.png", full_page=True)
        Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
        print(f"Failed at {page.url}; page kept in {stem}.png and {stem}.html")
        print(page.inner_text("body")[:2000])
    except Exception as error:  # the page may be closed or hung; the test failure is what counts
        print(f"Could not keep the failed page: {error!r}")
