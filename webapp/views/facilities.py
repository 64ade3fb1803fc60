"""The facility registry: list, add and edit facilities, import the department's list, staff."""

from pyramid.httpexceptions import HTTPFound
from pyramid.response import Response
from pyramid.view import view_config

from spets.forms.health import (
    FACILITY_COLUMNS,
    FACILITY_KIND,
    SERVICES,
    FacilitySchema,
    StaffSchema,
)
from spets.i18n import _
from spets.models import OrgUnit, User
from spets.services import facilities
from spets.services.errors import InvalidInput, ServiceError
from spets.services.scope import Permission as P
from spets.webapp import forms
from spets.webapp.views.common import form_page

MAX_IMPORT_BYTES = 5_000_000


def _tenant(request) -> OrgUnit:
    return request.dbsession.get(OrgUnit, request.identity.tenant_id)


def _facility_form(request, tenant):
    session = request.dbsession
    districts = facilities.districts_of(session, tenant)
    names = {district.id: district.name(request.locale_name) for district in districts}
    return forms.make_form(
        request,
        FacilitySchema(),
        button_title=_("Save the facility"),
        district_choices=[(d.code, d.name(request.locale_name)) for d in districts],
        tehsil_choices=[
            (t.code, f"{names.get(t.parent_id, '')} / {t.name(request.locale_name)}")
            for t in facilities.tehsils_of(session, tenant)
        ],
    )


@view_config(
    route_name="facilities.list",
    renderer="spets:webapp/templates/health/facilities.pt",
    permission=P.FACILITY_ADMIN,
)
def facility_list(request):
    session = request.dbsession
    tenant = _tenant(request)
    rows = facilities.list_facilities(session, tenant.id)
    areas = {unit.id: unit for unit in facilities.districts_of(session, tenant)}
    areas.update({unit.id: unit for unit in facilities.tehsils_of(session, tenant)})
    return {
        "page_title": request.t(_("Health facilities")),
        "rows": rows,
        "areas": areas,
        "staff": {row.id: facilities.staff_of(session, row.id) for row in rows},
        "kind_label": lambda kind: request.t(FACILITY_KIND[kind]),
        "service_label": lambda code: request.t(SERVICES.get(code, code)),
    }


@view_config(
    route_name="facilities.new",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FACILITY_ADMIN,
)
def facility_new(request):
    tenant = _tenant(request)

    def save(values):
        facilities.save_facility(
            request.dbsession,
            tenant,
            None,
            values,
            version=None,
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("facilities.list")

    return form_page(
        request,
        _facility_form(request, tenant),
        save,
        title=_("Add a health facility"),
        intro=_(
            "facility_intro",
            default="Referrals go to the nearest active facility that offers the service "
            "needed: in the school's tehsil, else in its district.",
        ),
        appstruct={"is_active": True},
        back_url=request.route_url("facilities.list"),
    )


@view_config(
    route_name="facilities.edit",
    renderer="spets:webapp/templates/form_page.pt",
    permission=P.FACILITY_ADMIN,
)
def facility_edit(request):
    facility = request.context.facility
    tenant = request.context.tenant

    def save(values):
        facilities.save_facility(
            request.dbsession,
            tenant,
            facility,
            values,
            version=values["version"],
            actor=request.actor,
            now=request.now,
        )
        return request.route_url("facilities.list")

    return form_page(
        request,
        _facility_form(request, tenant),
        save,
        title=_(
            "facility_edit_title",
            default="Edit ${name}",
            mapping={"name": facility.name(request.locale_name)},
        ),
        appstruct=facilities.appstruct_of(request.dbsession, facility),
        back_url=request.route_url("facilities.list"),
    )


@view_config(route_name="facilities.template", permission=P.FACILITY_ADMIN)
def facility_template(request):
    return Response(
        body=facilities.template_csv(),
        content_type="text/csv",
        charset="utf-8",
        content_disposition='attachment; filename="spets-health-facilities-template.csv"',
    )


@view_config(
    route_name="facilities.import",
    renderer="spets:webapp/templates/health/facility_import.pt",
    permission=P.FACILITY_ADMIN,
)
def facility_import(request):
    page = {
        "page_title": request.t(_("Import health facilities")),
        "columns": list(FACILITY_COLUMNS),
        "services": list(SERVICES),
        "error": None,
        "result": None,
    }
    if request.method != "POST":
        return page
    upload = request.POST.get("file")
    if upload is None or not hasattr(upload, "file") or not upload.filename:
        return {**page, "error": _("facility_no_file", default="Choose a CSV file to upload.")}
    data = upload.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return {
            **page,
            "error": _(
                "facility_file_too_large",
                default="The file is larger than 5 MB: split it into smaller files.",
            ),
        }
    savepoint = request.dbsession.begin_nested()
    try:
        result = facilities.import_facilities(
            request.dbsession, _tenant(request), data, actor=request.actor, now=request.now
        )
    except ServiceError as error:
        savepoint.rollback()
        return {**page, "error": error.message}
    if not result.ok:
        savepoint.rollback()
        return {**page, "result": result}
    savepoint.commit()
    request.session.flash(
        request.t(
            _(
                "facilities_imported",
                default="${created} facilities added and ${updated} updated.",
                mapping={"created": result.created, "updated": result.updated},
            )
        ),
        "success",
    )
    return HTTPFound(location=request.route_url("facilities.list"))


@view_config(
    route_name="facilities.staff",
    renderer="spets:webapp/templates/health/facility_staff.pt",
    permission=P.FACILITY_ADMIN,
)
def facility_staff(request):
    facility = request.context.facility
    session = request.dbsession
    candidates = facilities.health_staff_users(session, facility.tenant_id, request.today)
    if request.method == "POST" and request.POST.get("remove_user_id", "").isdigit():
        facilities.remove_staff(
            session,
            facility,
            int(request.POST["remove_user_id"]),
            actor=request.actor,
            now=request.now,
        )
        return HTTPFound(location=request.route_url("facilities.staff", facility_id=facility.id))
    form = forms.make_form(
        request,
        StaffSchema(),
        button_title=_("Add to the facility"),
        user_choices=[
            (str(user.id), f"{user.display_name} ({user.username})") for user in candidates
        ],
    )

    def save(values):
        user = session.get(User, values["user_id"])
        if user is None or user.id not in {candidate.id for candidate in candidates}:
            message = _(
                "not_health_staff",
                default="Choose an account that holds the health staff role.",
            )
            raise InvalidInput(message, {"user_id": message})
        facilities.add_staff(session, facility, user, actor=request.actor, now=request.now)
        return request.route_url("facilities.staff", facility_id=facility.id)

    result = forms.process(request, form, save)
    if isinstance(result, HTTPFound):
        return result
    return {
        **result,
        "page_title": request.t(
            _(
                "facility_staff_title",
                default="Staff of ${name}",
                mapping={"name": facility.name(request.locale_name)},
            )
        ),
        "facility": facility,
        "staff": facilities.staff_of(session, facility.id),
    }
