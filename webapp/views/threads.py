"""Messages between guardians and staff, section broadcasts, and the short links SMS carry.

Staff read and write threads under /messages; guardians under /portal/messages, in the
portal's layout. Both pages of a thread run under `ThreadContext`, which lets in only the
thread's member of staff and the guardian's account.
"""

from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from spets.forms.parents import (
    BroadcastSchema,
    GuardianMessageSchema,
    ReplySchema,
    StaffMessageSchema,
)
from spets.i18n import _
from spets.models import StudentGuardian, User
from spets.services import guardians, threads
from spets.services.scope import Permission as P
from spets.webapp import forms, navigation, profile_panels
from spets.webapp.views.portal import portal_values

navigation.register(navigation.NavItem("messages.inbox", _("Messages"), P.GUARDIAN_MESSAGE))


def _user(request) -> User:
    return request.dbsession.get(User, request.identity.user_id)


# Staff.


@view_config(
    route_name="messages.inbox",
    renderer="spets:webapp/templates/parents/inbox.pt",
    permission=P.GUARDIAN_MESSAGE,
)
def inbox(request):
    return {
        "page_title": request.t(_("Messages with guardians")),
        "threads": threads.threads_for_staff(request.dbsession, request.identity.user_id),
    }


@view_config(
    route_name="messages.student",
    renderer="spets:webapp/templates/parents/student_messages.pt",
    permission=P.GUARDIAN_MESSAGE,
)
def student_messages(request):
    """A student's threads with this member of staff, and a form to write to a guardian."""
    session = request.dbsession
    student = request.context.student
    choices = [
        (str(guardian.id), guardian.name(request.locale_name))
        for guardian, _has_account in threads.guardians_for_student(session, student.id)
    ]
    form = forms.make_form(
        request, StaffMessageSchema(), button_title=_("Send"), guardian_choices=choices
    )

    def save(values):
        thread = threads.start_thread(
            session,
            student=student,
            guardian_id=int(values["guardian_id"]),
            staff_id=request.identity.user_id,
            author=_user(request),
            subject=values["subject"],
            body=values["body"],
            now=request.now,
        )
        return request.route_url("messages.thread", thread_id=thread.id)

    result = forms.process(request, form, save) if choices else {"form": "", "conflict": None}
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "page_title": request.t(
            _(
                "messages_of_student",
                default="Messages about ${name}",
                mapping={"name": student.name(request.locale_name)},
            )
        ),
        "student": student,
        "threads": threads.threads_of_student(session, student.id, request.identity.user_id),
        "guardians": threads.guardians_for_student(session, student.id),
    }


def _thread_page(request, *, portal: bool):
    session = request.dbsession
    thread = request.context.thread
    form = forms.make_form(request, ReplySchema(), button_title=_("Send"))
    route = "messages.portal_thread" if portal else "messages.thread"

    def save(values):
        threads.post_message(session, thread, _user(request), values["body"], now=request.now)
        return request.route_url(route, thread_id=thread.id)

    result = forms.process(request, form, save)
    if isinstance(result, HTTPFound):
        return result
    threads.mark_thread_read(session, thread, request.identity.user_id, request.now)
    values = {
        **result,
        "thread": thread,
        "messages": threads.thread_messages(session, thread.id),
        "me": request.identity.user_id,
        "export_url": request.route_url(
            "messages.portal_export" if portal else "messages.export", thread_id=thread.id
        ),
    }
    return values


@view_config(
    route_name="messages.thread",
    renderer="spets:webapp/templates/parents/thread.pt",
    permission=P.GUARDIAN_MESSAGE,
)
def staff_thread(request):
    result = _thread_page(request, portal=False)
    if isinstance(result, HTTPFound):
        return result
    return {**result, "page_title": result["thread"].subject}


@view_config(
    route_name="messages.portal_thread",
    renderer="spets:webapp/templates/portal/thread.pt",
    permission=P.PORTAL,
)
def guardian_thread(request):
    result = _thread_page(request, portal=True)
    if isinstance(result, HTTPFound):
        return result
    context = _ChildOf(request.context.student)
    return portal_values(
        request, title=result["thread"].subject, child=context, tab="messages", **result
    )


class _ChildOf:
    """Stands in for a child context where the page is reached through another record."""

    def __init__(self, student):
        self.student = student


def _export(request):
    thread = request.context.thread
    body = threads.export_thread_csv(
        request.dbsession, thread, request.t, lambda user: user.name(request.locale_name)
    )
    return Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        content_disposition=f'attachment; filename="messages-{thread.id}.csv"',
    )


@view_config(route_name="messages.export", permission=P.GUARDIAN_MESSAGE)
def staff_export(request):
    return _export(request)


@view_config(route_name="messages.portal_export", permission=P.PORTAL)
def guardian_export(request):
    return _export(request)


@view_config(route_name="messages.short", permission=P.ACCOUNT)
def thread_short_link(request):
    """The link of an SMS or e-mail: the thread's page on the reader's side."""
    route = "messages.thread" if request.context.is_staff else "messages.portal_thread"
    return HTTPFound(location=request.route_url(route, thread_id=request.context.thread.id))


# Guardians.


@view_config(
    route_name="messages.new",
    renderer="spets:webapp/templates/portal/form.pt",
    permission=P.PORTAL,
)
def guardian_new_message(request):
    session = request.dbsession
    context = request.context
    staff = threads.staff_for_student(session, context.student, request.now)
    choices = [(str(user.id), user.name(request.locale_name)) for user in staff]
    form = forms.make_form(
        request, GuardianMessageSchema(), button_title=_("Send"), staff_choices=choices
    )

    def save(values):
        thread = threads.start_thread(
            session,
            student=context.student,
            guardian_id=context.guardian.id,
            staff_id=int(values["staff_id"]),
            author=_user(request),
            subject=values["subject"],
            body=values["body"],
            now=request.now,
        )
        return request.route_url("messages.portal_thread", thread_id=thread.id)

    result = forms.process(request, form, save)
    if isinstance(result, HTTPFound):
        return result
    return portal_values(
        request,
        title=_("Write to the school"),
        child=context,
        tab="messages",
        form=result["form"],
        intro=_(
            "new_message_intro",
            default="Write to one of your child's teachers or the head teacher. They are told "
            "by SMS or e-mail and answer here.",
        ),
    )


# Broadcasts.


@view_config(
    route_name="broadcasts.section",
    renderer="spets:webapp/templates/parents/broadcasts.pt",
    permission=P.SECTION_BROADCAST,
)
def section_broadcasts(request):
    session = request.dbsession
    section = request.context.section
    form = forms.make_form(request, BroadcastSchema(), button_title=_("Send to all guardians"))

    def save(values):
        broadcast = threads.send_broadcast(
            session,
            section=section,
            author=_user(request),
            subject=values["subject"],
            body=values["body"],
            now=request.now,
        )
        request.session.flash(
            request.t(_("broadcast_sent", default="Sent to every guardian of the section.")),
            "success",
        )
        return request.route_url("broadcasts.view", broadcast_id=broadcast.id)

    result = forms.process(request, form, save)
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "page_title": request.t(
            _(
                "broadcasts_title",
                default="Messages to the guardians of grade ${section}",
                mapping={"section": section.label},
            )
        ),
        "section": section,
        "broadcasts": threads.broadcasts_of_section(session, section.id),
        "guardian_count": len(threads.section_guardians(session, section.id)),
    }


@view_config(
    route_name="broadcasts.view",
    renderer="spets:webapp/templates/parents/broadcast.pt",
    permission=P.SECTION_BROADCAST,
)
def broadcast_view(request):
    broadcast = request.context.broadcast
    readers = threads.broadcast_readers(request.dbsession, broadcast)
    return {
        "page_title": broadcast.subject,
        "broadcast": broadcast,
        "section": request.context.section,
        "author": request.dbsession.get(User, broadcast.author_id),
        "readers": readers,
        "read_count": sum(1 for reader in readers if reader.read_at is not None),
    }


@view_config(
    route_name="broadcasts.portal_view",
    renderer="spets:webapp/templates/portal/broadcast.pt",
    permission=P.PORTAL,
)
def broadcast_portal_view(request):
    session = request.dbsession
    broadcast = request.context.broadcast
    threads.mark_broadcast_read(session, broadcast, request.identity.user_id, request.now)
    guardian_ids = threads.recipient_guardian_ids(session, broadcast.id, request.identity.user_id)
    children = [
        child
        for child in guardians.children_of(session, request.identity.user_id)
        if child.section is not None
        and child.section.id == broadcast.section_id
        and child.guardian.id in guardian_ids
    ]
    return portal_values(
        request,
        title=broadcast.subject,
        child=_ChildOf(children[0].student) if children else None,
        tab="messages",
        broadcast=broadcast,
        author=session.get(User, broadcast.author_id),
    )


@view_config(route_name="broadcasts.short", permission=P.ACCOUNT)
def broadcast_short_link(request):
    context = request.context
    if context.is_recipient:
        route = "broadcasts.portal_view"
    elif context.is_staff:
        route = "broadcasts.view"
    else:
        raise HTTPNotFound()
    return HTTPFound(location=request.route_url(route, broadcast_id=context.broadcast.id))


# The student profile: this member of staff's threads about the student, and the guardians.


def _profile_panel(request, record):
    session = request.dbsession
    student = record.student
    can = request.context.can
    return {
        "threads": threads.threads_of_student(session, student.id, request.identity.user_id),
        "guardians": threads.guardians_for_student(session, student.id),
        "links": {
            link.guardian_id: link
            for link in session.scalars(
                select(StudentGuardian).where(StudentGuardian.student_id == student.id)
            )
        },
        "can_invite": can(P.GUARDIAN_INVITE),
        "messages_url": request.route_url("messages.student", student_id=student.id),
    }


profile_panels.register_panel(
    profile_panels.Panel(
        key="guardian_messages",
        title=_("Guardians online"),
        permission=P.GUARDIAN_MESSAGE,
        template="spets:webapp/templates/parents/profile_panel.pt",
        load=_profile_panel,
        order=60,
    )
)
