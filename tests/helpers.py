"""A thin WebTest wrapper that signs in and submits forms the way a browser does."""

import re

from builders import PASSWORD
from sqlalchemy import event


class Browser:
    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        return getattr(self.app, name)

    def login(self, username: str, password: str = PASSWORD, status: int = 302):
        self.app.reset()
        page = self.app.get("/login")
        form = page.forms["record-form"]
        form["username"] = username
        form["password"] = password
        return form.submit("save", status=status)

    def csrf_token(self) -> str:
        page = self.app.get("/login") if not self.app.cookies else self.app.get("/")
        if page.status_int == 302:
            page = page.follow()
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post_with_csrf(self, url: str, params: dict | None = None, **kwargs):
        data = dict(params or {})
        data["csrf_token"] = self.csrf_token()
        return self.app.post(url, data, **kwargs)

    def submit_form(self, url: str, values: dict, status=None, button: str = "save"):
        """Open the form page at `url`, fill `values` in and submit it."""
        page = self.app.get(url)
        form = page.forms["record-form"]
        for name, value in values.items():
            form[name] = value
        return form.submit(button, status=status)


def count_statements(connection, action) -> int:
    """Run `action` and return how many SQL statements it sent on `connection`."""
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(connection, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(connection, "before_cursor_execute", count)
    return len(statements)
