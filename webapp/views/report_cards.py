"""Report cards as PDF: one student's card, or every card of a section in one file.

The student profile gets a panel of links to the student's cards, and the section's
results page links to the section's files.

Query parameters:

- ``lang``: ``en`` or ``ur``, by default the reader's own language.
- ``term``: ``first`` (exams starting April to September), ``second`` (October to
  March) or ``year`` (the whole year, the default).
- ``year``: for a student's card, the academic year like ``2025-26``, by default the
  current one. A section's cards always belong to the section's own year.
"""

import re

from pyramid.httpexceptions import HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.response import Response
from pyramid.view import view_config

from spets.i18n import LOCALES, _
from spets.services import calendar, report_card_pdf, report_cards
from spets.services.errors import InvalidInput, NotFound
from spets.services.scope import Permission as P
from spets.webapp import profile_panels

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9-]+")


def _language(request) -> str:
    requested = request.params.get("lang", "")
    if not requested:
        return request.locale_name
    if requested not in LOCALES:
        raise InvalidInput(
            _(
                "card_lang_invalid",
                default='"${value}" is not a language of report cards. Use en or ur.',
                mapping={"value": requested[:20]},
            )
        )
    return requested


def _filename(*parts) -> str:
    safe = [_UNSAFE_IN_FILENAME.sub("-", str(part)).strip("-") for part in parts]
    return "-".join(part for part in safe if part) + ".pdf"


def _pdf_response(body: bytes, filename: str) -> Response:
    return Response(
        body=body,
        content_type="application/pdf",
        content_disposition=f'inline; filename="{filename}"',
    )


def _bad_request(request, error: InvalidInput):
    response = render_to_response(
        "spets:webapp/templates/error.pt",
        {
            "page_title": request.t(_("card_bad_request", default="Wrong link")),
            "message": error.message,
        },
        request=request,
    )
    response.status = 400
    return response


@view_config(route_name="reportcards.student", permission=P.STUDENT_VIEW)
def student_report_card(request):
    student = request.context.student
    try:
        locale = _language(request)
        term = report_cards.parse_term(request.params.get("term"))
    except InvalidInput as error:
        return _bad_request(request, error)

    session = request.dbsession
    try:
        if request.params.get("year"):
            year = report_cards.find_year(session, student.tenant_id, request.params["year"])
        else:
            year = calendar.current_year(session, student.tenant_id, request.today)
            if year is None:
                raise HTTPNotFound()
        cards = report_cards.student_card(session, student, year, term)
    except NotFound:
        raise HTTPNotFound() from None

    body = report_card_pdf.render_pdf(cards, locale, issued_on=request.today)
    report_cards.audit_export(
        session,
        cards,
        student=student,
        actor=request.actor,
        now=request.now,
        reason=f"PDF in {locale}",
    )
    filename = _filename("report-card", student.admission_no, year.label, term.value, locale)
    return _pdf_response(body, filename)


@view_config(route_name="reportcards.section", permission=P.SECTION_VIEW)
def section_report_cards(request):
    section = request.context.section
    try:
        locale = _language(request)
        term = report_cards.parse_term(request.params.get("term"))
    except InvalidInput as error:
        return _bad_request(request, error)

    cards = report_cards.section_cards(request.dbsession, section, term)
    body = report_card_pdf.render_pdf(cards, locale, issued_on=request.today)
    report_cards.audit_export(
        request.dbsession,
        cards,
        student=None,
        actor=request.actor,
        now=request.now,
        reason=f"PDF in {locale}",
    )
    filename = _filename(
        "report-cards", section.label, section.academic_year.label, term.value, locale
    )
    return _pdf_response(body, filename)


# The student profile: links to the student's cards of each year with a card to show.


def _profile_panel(request, record):
    student = record.student
    years = report_cards.card_years(request.dbsession, student, request.today)
    if not years:
        return None
    return {
        "years": years,
        "terms": report_cards.TERM_LABELS,
        "card_url": lambda year, term, lang: request.route_url(
            "reportcards.student",
            student_id=student.id,
            _query={"year": year.label, "term": term.value, "lang": lang},
        ),
    }


profile_panels.register_panel(
    profile_panels.Panel(
        key="report_cards",
        title=_("Report cards"),
        permission=P.STUDENT_VIEW,
        template="spets:webapp/templates/results/report_cards_panel.pt",
        load=_profile_panel,
        order=15,
    )
)
