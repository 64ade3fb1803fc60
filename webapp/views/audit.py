"""The audit trail, filtered to the units the reader supervises."""

from pyramid.view import view_config
from sqlalchemy import or_, select

from spets.i18n import _
from spets.models import AuditEvent, OrgUnit, User
from spets.services.scope import Permission as P

PAGE_SIZE = 100


@view_config(
    route_name="audit.list",
    renderer="spets:webapp/templates/audit/list.pt",
    permission=P.AUDIT_VIEW,
)
def audit_list(request):
    principal = request.identity
    paths = principal.paths_with(P.AUDIT_VIEW)
    units = select(OrgUnit.id).where(or_(*[OrgUnit.path.startswith(path) for path in paths]))
    query = (
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.org_unit_id.in_(units))
    )
    category = request.params.get("category")
    if category:
        query = query.where(AuditEvent.category == category)
    student_id = request.params.get("student_id", "")
    if student_id.isdigit():
        query = query.where(AuditEvent.student_id == int(student_id))
    rows = request.dbsession.execute(query.order_by(AuditEvent.id.desc()).limit(PAGE_SIZE)).all()
    return {"page_title": request.t(_("Audit trail")), "rows": rows, "category": category or ""}
