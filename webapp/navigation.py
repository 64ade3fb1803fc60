"""The main menu: which entries a user sees, and the places kept for the cycles to come."""

import functools
from dataclasses import dataclass

from pyramid.events import BeforeRender, subscriber
from sqlalchemy import func, select

from spets.i18n import _
from spets.models import Notification
from spets.services import calendar
from spets.services.scope import Permission as P


@dataclass(frozen=True)
class NavItem:
    route: str | None
    title: object
    permission: str | None
    planned: bool = False


PLANNED_TITLE = _("planned", default="Not in SPeTS yet")

# Planned entries show greyed out, marking where the cycles will appear.
NAV_ITEMS = (
    NavItem("home", _("Home"), P.ACCOUNT),
    NavItem("org.browse", _("Schools"), P.SCHOOL_VIEW),
    NavItem("students.list", _("Students"), P.STUDENT_VIEW),
    NavItem("tasks.mine", _("My tasks"), P.ACCOUNT),
    NavItem("signoff.queue", _("Sign-off"), P.TASK_SIGNOFF),
    NavItem("escalations.list", _("Escalations"), P.TASK_VIEW),
    NavItem("results.amendments", _("Results"), P.RESULTS_VIEW),
    NavItem(None, _("Attendance"), P.STUDENT_VIEW, planned=True),
    NavItem(None, _("Health"), P.STUDENT_VIEW, planned=True),
    NavItem("calendar.years", _("Calendar"), P.CALENDAR_VIEW),
    NavItem("admin.home", _("Administration"), P.ORG_ADMIN),
    NavItem("audit.list", _("Audit trail"), P.AUDIT_VIEW),
)


def register(item: NavItem, replaces: str | None = None) -> None:
    """Add a menu entry for a domain, in place of the planned entry titled `replaces`."""
    global NAV_ITEMS
    items = list(NAV_ITEMS)
    position = next(
        (
            i
            for i, old in enumerate(items)
            if old.planned and getattr(old.title, "default", old.title) == replaces
        ),
        None,
    )
    if position is None:
        items.append(item)
    else:
        items[position] = item
    NAV_ITEMS = tuple(items)


def visible_items(request) -> list[NavItem]:
    principal = request.identity
    if principal is None:
        return []
    granted = principal.permissions_anywhere()
    return [item for item in NAV_ITEMS if item.permission is None or item.permission in granted]


def unread_count(request) -> int:
    principal = request.identity
    if principal is None:
        return 0
    return request.dbsession.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == principal.user_id, Notification.read_at.is_(None)
        )
    )


def take_flash(request, queue: str) -> list[str]:
    """Return and clear the flash messages of `queue`.

    Popping marks the session changed, which re-signs and re-sends its cookie. Peeking first
    keeps a page without messages from sending a new cookie on every request.
    """
    if not request.session.peek_flash(queue):
        return []
    return request.session.pop_flash(queue)


@subscriber(BeforeRender)
def add_navigation(event):
    request = event.get("request")
    if request is None:
        return
    values = event.rendering_val if isinstance(event.rendering_val, dict) else {}
    if values.get("portal_page"):
        # The portal's own layout has no staff menu and counts unread messages itself.
        event["nav_items"] = []
        event["unread_count"] = 0
    else:
        event["nav_items"] = visible_items(request)
        # Profile panels render their own templates: the request counts once for all of them.
        event["unread_count"] = request.unread_count
    event["planned_title"] = PLANNED_TITLE
    event["local_clock"] = calendar.local_clock
    event["flash"] = functools.partial(take_flash, request)


def includeme(config):
    config.add_request_method(unread_count, "unread_count", reify=True)
    config.scan(__name__)
