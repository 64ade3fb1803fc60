"""Tasks: a teacher's list, one task, the sign-off queue, escalations and notifications."""

import colander
import deform.widget
from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from spets.forms.common import csrf_node, version_node
from spets.forms.types import trimmed
from spets.i18n import _
from spets.models import CycleKind, TaskEscalation
from spets.services import messaging, tasks
from spets.services.errors import InvalidInput, Locked, StaleEdit
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import form_page

# Where the work of each kind of task is done; other domains' view modules add theirs.
WORK_ROUTES = {
    CycleKind.QUARTERLY_FEEDBACK: "feedback.sheet",
    CycleKind.RESULT_ENTRY: "results.task_sheet",
}


class ReturnSchema(colander.MappingSchema):
    comment = colander.SchemaNode(
        colander.String(),
        title=_("What must change"),
        preparer=trimmed,
        validator=colander.Length(min=3, max=1000),
        widget=deform.widget.TextAreaWidget(rows=4),
    )
    version = version_node()
    csrf_token = csrf_node()


def work_url(request, task) -> str | None:
    route = WORK_ROUTES.get(task.kind)
    return request.route_url(route, task_id=task.id) if route else None


@view_config(
    route_name="tasks.mine", renderer="spets:webapp/templates/tasks/mine.pt", permission=P.ACCOUNT
)
def my_tasks(request):
    show_done = request.params.get("done") == "1"
    return {
        "page_title": request.t(_("My tasks")),
        "tasks": tasks.my_tasks(
            request.dbsession, request.identity.user_id, include_done=show_done
        ),
        "show_done": show_done,
        "work_url": lambda task: work_url(request, task),
        "describe": lambda task: tasks.describe(task, request.locale_name),
    }


@view_config(
    route_name="task.view", renderer="spets:webapp/templates/tasks/view.pt", permission=P.TASK_VIEW
)
def task_view(request):
    task = request.context.task
    escalations = [e for e in task_escalations(request, task)]
    return {
        "page_title": tasks.describe(task, request.locale_name),
        "task": task,
        "escalations": escalations,
        "can": request.context.can,
        "work_url": work_url(request, task),
        "can_sign_off": request.context.can(P.TASK_SIGNOFF)
        and tasks.can_sign_off(request.identity, task),
    }


def task_escalations(request, task):
    from sqlalchemy import select

    return request.dbsession.scalars(
        select(TaskEscalation)
        .where(TaskEscalation.task_id == task.id)
        .order_by(TaskEscalation.level)
    ).all()


def _decide(request, action) -> HTTPFound:
    """Run a sign-off action and come back to the task with the outcome as a message."""
    task = request.context.task
    version = request.POST.get("version")
    try:
        action(task, int(version) if version and version.isdigit() else None)
    except (Locked, StaleEdit, InvalidInput) as error:
        request.session.flash(request.t(error.message), "warning")
        return HTTPFound(location=request.route_url("task.view", task_id=task.id))
    return None


@view_config(route_name="task.submit", request_method="POST", permission=P.TASK_WORK)
def task_submit(request):
    """Submit a task that has no sheet of its own; sheets submit through their own page."""

    def submit(task, version):
        tasks.submit_task(
            request.dbsession, task, actor=request.actor, now=request.now, version=version
        )

    return _decide(request, submit) or HTTPFound(location=request.route_url("tasks.mine"))


@view_config(route_name="task.approve", request_method="POST", permission=P.TASK_SIGNOFF)
def task_approve(request):
    def approve(task, version):
        if not tasks.can_sign_off(request.identity, task):
            raise Locked(
                _(
                    "not_your_signoff",
                    default="Only the head teacher of the task's school signs it off.",
                )
            )
        tasks.approve_task(
            request.dbsession, task, actor=request.actor, now=request.now, version=version
        )
        request.session.flash(
            request.t(_("task_approved_flash", default="Approved and locked.")), "success"
        )

    return _decide(request, approve) or HTTPFound(location=request.route_url("signoff.queue"))


@view_config(
    route_name="task.return",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.TASK_SIGNOFF,
)
def task_return(request):
    task = request.context.task
    if not tasks.can_sign_off(request.identity, task):
        request.response.status = 403
        return {
            "page_title": request.t(_("Not allowed")),
            "form": "",
            "conflict": None,
            "intro": _(
                "not_your_signoff",
                default="Only the head teacher of the task's school signs it off.",
            ),
        }
    form = forms.make_form(request, ReturnSchema(), button_title=_("Return to the teacher"))

    def save(values):
        tasks.return_task(
            request.dbsession,
            task,
            values["comment"],
            actor=request.actor,
            now=request.now,
            version=values["version"],
        )
        request.session.flash(
            request.t(_("task_returned_flash", default="Returned to the teacher.")), "success"
        )
        return request.route_url("signoff.queue")

    return form_page(
        request,
        form,
        save,
        title=_(
            "return_title",
            default="Return ${task}",
            mapping={"task": tasks.describe(task, request.locale_name)},
        ),
        intro=_(
            "return_intro", default="The teacher sees your comment and gets two more school days."
        ),
        appstruct={"version": task.version},
        back_url=request.route_url("task.view", task_id=task.id),
    )


@view_config(
    route_name="signoff.queue",
    renderer="spets:webapp/templates/tasks/signoff.pt",
    permission=P.TASK_SIGNOFF,
)
def signoff_queue(request):
    return {
        "page_title": request.t(_("Sign-off queue")),
        "tasks": tasks.signoff_queue(request.dbsession, request.identity),
        "work_url": lambda task: work_url(request, task),
        "describe": lambda task: tasks.describe(task, request.locale_name),
    }


@view_config(
    route_name="escalations.list",
    renderer="spets:webapp/templates/tasks/escalations.pt",
    permission=P.TASK_VIEW,
)
def escalation_list(request):
    show_resolved = request.params.get("resolved") == "1"
    return {
        "page_title": request.t(_("Escalations")),
        "rows": tasks.escalations_for(
            request.dbsession, request.identity, include_resolved=show_resolved
        ),
        "show_resolved": show_resolved,
        "describe": lambda task: tasks.describe(task, request.locale_name),
    }


@view_config(
    route_name="notifications.list",
    renderer="spets:webapp/templates/tasks/notifications.pt",
    permission=P.ACCOUNT,
)
def notification_list(request):
    return {
        "page_title": request.t(_("Notifications")),
        "notifications": messaging.unread_notifications(
            request.dbsession, request.identity.user_id, limit=100
        ),
    }


@view_config(route_name="notifications.read", request_method="POST", permission=P.ACCOUNT)
def notification_read(request):
    raw = request.POST.get("notification_id", "")
    notification_id = int(raw) if raw.isdigit() else None
    messaging.mark_read(request.dbsession, request.identity.user_id, notification_id, request.now)
    return HTTPFound(location=request.route_url("notifications.list"))
