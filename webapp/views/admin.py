"""Administration of a tenant: the org tree, staff accounts and roles, and subjects."""

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config
from sqlalchemy import func, or_, select

from spets.forms import vocab
from spets.forms.org import MoveUnitSchema, OrgUnitSchema, SubjectSchema
from spets.forms.users import (
    EndRoleSchema,
    NewUserSchema,
    RoleAssignmentSchema,
    SetPasswordSchema,
    UserSchema,
)
from spets.i18n import _
from spets.models import ALLOWED_PARENT_KINDS, OrgKind, OrgUnit, RoleAssignment, Subject, User
from spets.services import auth, org, users
from spets.services.errors import InvalidInput
from spets.services.scope import ROLE_ORG_KINDS
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import form_page

USER_PAGE_SIZE = 50


def _tenant(request) -> OrgUnit:
    return request.dbsession.get(OrgUnit, request.identity.tenant_id)


@view_config(
    route_name="admin.home", renderer="spets:webapp/templates/admin/home.pt", permission=P.ORG_ADMIN
)
def admin_home(request):
    return {"page_title": request.t(_("Administration")), "tenant": _tenant(request)}


@view_config(
    route_name="admin.org", renderer="spets:webapp/templates/admin/org.pt", permission=P.ORG_ADMIN
)
def admin_org(request):
    unit = request.context.unit
    session = request.dbsession
    children = session.scalars(
        select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.name_en)
    ).all()
    holders = session.execute(
        select(RoleAssignment, User)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.org_unit_id == unit.id)
        .order_by(RoleAssignment.role, User.display_name)
    ).all()
    return {
        "page_title": unit.name(request.locale_name),
        "unit": unit,
        "ancestors": org.ancestors(session, unit),
        "children": children,
        "holders": holders,
        "child_kinds": _child_kinds(unit),
    }


def _child_kinds(parent: OrgUnit) -> list[OrgKind]:
    return [kind for kind, parents in ALLOWED_PARENT_KINDS.items() if parent.kind in parents]


def _kind_choices(request, kinds) -> list[tuple[str, str]]:
    return [(kind.value, request.t(vocab.ORG_KIND[kind])) for kind in kinds]


@view_config(
    route_name="admin.org_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.ORG_ADMIN,
)
def admin_org_new(request):
    parent = request.context.unit
    kinds = _child_kinds(parent)
    form = forms.make_form(
        request, OrgUnitSchema(), kinds=_kind_choices(request, kinds), button_title=_("Create")
    )

    def save(values):
        kind = OrgKind(values["kind"])
        school_fields = {}
        if kind == OrgKind.SCHOOL:
            school_fields = {
                "school_level": values["school_level"],
                "school_gender": values["school_gender"],
            }
        unit = org.create_unit(
            request.dbsession,
            parent=parent,
            kind=kind,
            code=values["code"],
            name_en=values["name_en"],
            name_ur=values["name_ur"],
            actor=request.actor,
            now=request.now,
            **school_fields,
        )
        return request.route_url("admin.org", unit_id=unit.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "new_unit_title",
            default="New unit under ${name}",
            mapping={"name": parent.name(request.locale_name)},
        ),
        appstruct={"kind": kinds[0].value if kinds else ""},
        back_url=request.route_url("admin.org", unit_id=parent.id),
    )


@view_config(
    route_name="admin.org_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.ORG_ADMIN,
)
def admin_org_edit(request):
    unit = request.context.unit
    form = forms.make_form(request, OrgUnitSchema(), kinds=_kind_choices(request, [unit.kind]))

    def save(values):
        values = {**values, "kind": unit.kind}
        org.update_unit(
            request.dbsession,
            unit,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("admin.org", unit_id=unit.id)

    appstruct = {name: getattr(unit, name) for name in org.ORG_FIELDS}
    appstruct.update(kind=unit.kind.value, version=unit.version)
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_unit_title",
            default="Edit ${name}",
            mapping={"name": unit.name(request.locale_name)},
        ),
        appstruct=appstruct,
        back_url=request.route_url("admin.org", unit_id=unit.id),
    )


@view_config(
    route_name="admin.org_move",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.ORG_ADMIN,
)
def admin_org_move(request):
    unit = request.context.unit
    if unit.parent_id is None:
        return HTTPFound(location=request.route_url("admin.org", unit_id=unit.id))
    parent_kinds = list(ALLOWED_PARENT_KINDS[unit.kind])
    candidates = request.dbsession.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.tenant_id == unit.tenant_id,
            OrgUnit.kind.in_(parent_kinds),
            OrgUnit.id != unit.parent_id,
        )
        .order_by(OrgUnit.name_en)
        .limit(1000)
    ).all()
    choices = [
        (str(c.id), f"{c.name(request.locale_name)} ({request.t(vocab.ORG_KIND[c.kind])} {c.code})")
        for c in candidates
    ]
    form = forms.make_form(request, MoveUnitSchema(), parents=choices, button_title=_("Move"))

    def save(values):
        org.move_unit(
            request.dbsession,
            unit,
            request.dbsession.get(OrgUnit, values["parent_id"]),
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("admin.org", unit_id=unit.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "move_unit_title",
            default="Move ${name} elsewhere in the tree",
            mapping={"name": unit.name(request.locale_name)},
        ),
        intro=_(
            "move_unit_intro",
            default="Everything below the unit moves with it; role holders above the old place lose their view of it.",
        ),
        back_url=request.route_url("admin.org", unit_id=unit.id),
    )


# Staff accounts and roles.


@view_config(
    route_name="admin.users",
    renderer="spets:webapp/templates/admin/users.pt",
    permission=P.USER_ADMIN,
)
def admin_users(request):
    text = request.params.get("q", "").strip()[:100]
    page = int(request.params["page"]) if request.params.get("page", "").isdigit() else 1
    query = select(User).where(User.tenant_id == request.identity.tenant_id)
    if text:
        like = f"%{text.lower()}%"
        query = query.where(
            or_(func.lower(User.username).like(like), func.lower(User.display_name).like(like))
        )
    total = request.dbsession.scalar(select(func.count()).select_from(query.subquery()))
    found = request.dbsession.scalars(
        query.order_by(User.display_name)
        .limit(USER_PAGE_SIZE)
        .offset((max(page, 1) - 1) * USER_PAGE_SIZE)
    ).all()
    return {"page_title": request.t(_("Staff accounts")), "users": found, "q": text, "total": total}


@view_config(
    route_name="admin.user_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.USER_ADMIN,
)
def admin_user_new(request):
    form = forms.make_form(request, NewUserSchema(), button_title=_("Create"))

    def save(values):
        user = users.create_user(
            request.dbsession,
            tenant_id=request.identity.tenant_id,
            values=values,
            password=values["password"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("admin.user", user_id=user.id)

    return form_page(
        request,
        form,
        save,
        title=_("New staff account"),
        appstruct={"locale": "en", "is_active": True},
        back_url=request.route_url("admin.users"),
    )


@view_config(
    route_name="admin.user",
    renderer="spets:webapp/templates/admin/user.pt",
    permission=P.USER_ADMIN,
)
def admin_user(request):
    user = request.context.user
    assignments = request.dbsession.execute(
        select(RoleAssignment, OrgUnit)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
        .where(RoleAssignment.user_id == user.id)
        .order_by(RoleAssignment.valid_from.desc())
    ).all()
    return {"page_title": user.display_name, "user": user, "assignments": assignments}


@view_config(
    route_name="admin.user_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.USER_ADMIN,
)
def admin_user_edit(request):
    user = request.context.user
    form = forms.make_form(request, UserSchema())

    def save(values):
        users.update_user(
            request.dbsession,
            user,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("admin.user", user_id=user.id)

    appstruct = {name: getattr(user, name) for name in users.USER_FIELDS}
    appstruct["version"] = user.version
    return form_page(
        request,
        form,
        save,
        title=_(
            "edit_user_title",
            default="Edit the account of ${name}",
            mapping={"name": user.display_name},
        ),
        appstruct=appstruct,
        back_url=request.route_url("admin.user", user_id=user.id),
    )


@view_config(
    route_name="admin.user_password",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.USER_ADMIN,
)
def admin_user_password(request):
    user = request.context.user
    form = forms.make_form(request, SetPasswordSchema(), button_title=_("Set password"))

    def save(values):
        auth.set_password(
            request.dbsession, user, values["password"], actor=request.actor, now=request.now
        )
        return request.route_url("admin.user", user_id=user.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "set_password_title",
            default="Set a new password for ${name}",
            mapping={"name": user.display_name},
        ),
        back_url=request.route_url("admin.user", user_id=user.id),
    )


@view_config(
    route_name="admin.role_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.USER_ADMIN,
)
def admin_role_new(request):
    user = request.context.user
    form = forms.make_form(request, RoleAssignmentSchema(), button_title=_("Assign"))

    def save(values):
        role = values["role"]
        units = org.find_unit_by_code(
            request.dbsession, user.tenant_id, values["org_unit_code"], ROLE_ORG_KINDS[role]
        )
        if len(units) != 1:
            message = (
                _(
                    "role_unit_not_found",
                    default='No ${kinds} with code "${code}" was found.',
                    mapping={
                        "kinds": " / ".join(sorted(ROLE_ORG_KINDS[role])),
                        "code": values["org_unit_code"],
                    },
                )
                if not units
                else _(
                    "role_unit_ambiguous",
                    default='The code "${code}" matches several units; ask an administrator to make codes unique.',
                    mapping={"code": values["org_unit_code"]},
                )
            )
            raise InvalidInput(message, {"org_unit_code": message})
        users.assign_role(
            request.dbsession,
            user=user,
            role=role,
            org_unit=units[0],
            valid_from=values["valid_from"],
            valid_to=values["valid_to"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("admin.user", user_id=user.id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "assign_role_title", default="Give ${name} a role", mapping={"name": user.display_name}
        ),
        appstruct={"valid_from": request.today, "org_unit_code": request.params.get("code", "")},
        back_url=request.route_url("admin.user", user_id=user.id),
    )


@view_config(
    route_name="admin.role_end",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.USER_ADMIN,
)
def admin_role_end(request):
    assignment = request.context.assignment
    form = forms.make_form(request, EndRoleSchema(), button_title=_("End the role"))

    def save(values):
        users.end_role(
            request.dbsession, assignment, values["valid_to"], actor=request.actor, now=request.now
        )
        return request.route_url("admin.user", user_id=assignment.user_id)

    return form_page(
        request,
        form,
        save,
        title=_(
            "end_role_title",
            default="End the role of ${name}",
            mapping={"name": assignment.user.display_name},
        ),
        appstruct={"valid_to": request.today},
        back_url=request.route_url("admin.user", user_id=assignment.user_id),
    )


# Subjects.


@view_config(
    route_name="admin.subjects",
    renderer="spets:webapp/templates/admin/subjects.pt",
    permission=P.SUBJECT_ADMIN,
)
def admin_subjects(request):
    subjects = org.subjects_of_tenant(
        request.dbsession, request.identity.tenant_id, active_only=False
    )
    return {"page_title": request.t(_("Subjects")), "subjects": subjects}


def _subject_page(request, subject: Subject | None):
    form = forms.make_form(request, SubjectSchema())

    def save(values):
        org.save_subject(
            request.dbsession,
            tenant_id=request.identity.tenant_id,
            subject=subject,
            values=values,
            version=values.get("version"),
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("admin.subjects")

    appstruct = {"is_active": True}
    if subject is not None:
        appstruct = {name: getattr(subject, name) for name in org.SUBJECT_FIELDS}
        appstruct["version"] = subject.version
    title = _("New subject") if subject is None else _("Edit subject")
    return form_page(
        request,
        form,
        save,
        title=title,
        appstruct=appstruct,
        back_url=request.route_url("admin.subjects"),
    )


@view_config(
    route_name="admin.subject_new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.SUBJECT_ADMIN,
)
def admin_subject_new(request):
    return _subject_page(request, None)


@view_config(
    route_name="admin.subject_edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.SUBJECT_ADMIN,
)
def admin_subject_edit(request):
    return _subject_page(request, request.context.subject)
