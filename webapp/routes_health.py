"""Routes of the health pages, included from webapp/routes.py.

Screenings (`health.*`), well-being (`wellbeing.*`), referrals (`referrals.*`), the
facility registry (`facilities.*`) and the health department's status updates (`fhir.*`).
"""

H = "spets.webapp.resources_health."
R = "spets.webapp.resources."


def includeme(config):
    # The health menu's page, and the section screening of the yearly task.
    config.add_route("health.home", "/health")
    config.add_route(
        "health.task", "/tasks/{task_id:\\d+}/health-screening", factory=R + "TaskContext"
    )
    config.add_route(
        "health.section", "/sections/{section_id:\\d+}/health", factory=H + "HealthSectionContext"
    )

    # Screenings of one student.
    config.add_route(
        "health.screening_new",
        "/students/{student_id:\\d+}/health/screenings/new",
        factory=H + "ScreeningNewContext",
    )
    config.add_route(
        "health.screening", "/health/screenings/{screening_id:\\d+}", factory=H + "ScreeningContext"
    )
    config.add_route(
        "health.screening_edit",
        "/health/screenings/{screening_id:\\d+}/edit",
        factory=H + "ScreeningContext",
    )

    # Well-being: observations, the student's record, screeners and instruments.
    config.add_route(
        "wellbeing.observe",
        "/students/{student_id:\\d+}/wellbeing/observe",
        factory=H + "ObserveContext",
    )
    config.add_route(
        "wellbeing.student",
        "/students/{student_id:\\d+}/wellbeing",
        factory=H + "WellbeingStudentContext",
    )
    config.add_route(
        "wellbeing.screener",
        "/students/{student_id:\\d+}/wellbeing/screener",
        factory=H + "WellbeingStudentContext",
    )
    config.add_route(
        "wellbeing.observation",
        "/wellbeing/observations/{observation_id:\\d+}",
        factory=H + "ObservationContext",
    )
    config.add_route(
        "wellbeing.response",
        "/wellbeing/responses/{response_id:\\d+}",
        factory=H + "ResponseContext",
    )
    config.add_route("wellbeing.instruments", "/admin/instruments")
    config.add_route(
        "wellbeing.instrument",
        "/admin/instruments/{instrument_id:\\d+}",
        factory=H + "InstrumentContext",
    )

    # Referrals: raising, lists, one referral and its steps, the guardian's slip.
    config.add_route("referrals.list", "/referrals")
    config.add_route("referrals.queue", "/referrals/queue")
    config.add_route(
        "referrals.new",
        "/students/{student_id:\\d+}/referrals/new",
        factory=H + "ReferralNewContext",
    )
    config.add_route("referrals.task", "/tasks/{task_id:\\d+}/referral", factory=R + "TaskContext")
    P = "/referrals/{referral_id:\\d+}"
    config.add_route("referrals.view", P, factory=H + "ReferralContext")
    config.add_route("referrals.slip", P + "/slip.pdf", factory=H + "ReferralContext")
    config.add_route("referrals.acknowledge", P + "/acknowledge", factory=H + "ReferralContext")
    config.add_route("referrals.appointment", P + "/appointment", factory=H + "ReferralContext")
    config.add_route("referrals.seen", P + "/seen", factory=H + "ReferralContext")
    config.add_route("referrals.close", P + "/close", factory=H + "ReferralContext")
    config.add_route("referrals.cancel", P + "/cancel", factory=H + "ReferralContext")

    # The facility registry (administrators).
    config.add_route("facilities.list", "/admin/facilities")
    config.add_route("facilities.new", "/admin/facilities/new")
    config.add_route("facilities.import", "/admin/facilities/import")
    config.add_route("facilities.template", "/admin/facilities/template.csv")
    config.add_route(
        "facilities.edit",
        "/admin/facilities/{facility_id:\\d+}/edit",
        factory=H + "FacilityContext",
    )
    config.add_route(
        "facilities.staff",
        "/admin/facilities/{facility_id:\\d+}/staff",
        factory=H + "FacilityContext",
    )

    # Status updates from the health department (FHIR, bearer token). Only POST matches,
    # so any other method is a plain 404 and never reaches the token check.
    config.add_route(
        "fhir.status",
        "/fhir/status",
        request_method="POST",
        factory=H + "FhirInboundContext",
    )
