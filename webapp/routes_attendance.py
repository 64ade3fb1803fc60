"""Routes of attendance, behaviour, early warnings and intervention plans, included from webapp/routes.py."""

R = "spets.webapp.resources."
RA = "spets.webapp.resources_attendance."


def includeme(config):
    # Daily registers and attendance figures.
    config.add_route("attendance.home", "/attendance")
    config.add_route(
        "attendance.school", "/schools/{school_id:\\d+}/attendance", factory=R + "SchoolContext"
    )
    config.add_route(
        "attendance.options",
        "/schools/{school_id:\\d+}/attendance/options",
        factory=R + "SchoolContext",
    )
    config.add_route(
        "attendance.section", "/sections/{section_id:\\d+}/attendance", factory=R + "SectionContext"
    )
    config.add_route(
        "attendance.register",
        "/sections/{section_id:\\d+}/attendance/{day:\\d{4}-\\d{2}-\\d{2}}",
        factory=R + "SectionContext",
    )
    config.add_route(
        "attendance.task", "/tasks/{task_id:\\d+}/attendance", factory=R + "TaskContext"
    )

    # Behaviour: the monthly rubric and incidents.
    config.add_route(
        "behaviour.rubric", "/tasks/{task_id:\\d+}/behaviour", factory=RA + "RubricTaskContext"
    )
    config.add_route(
        "behaviour.section", "/sections/{section_id:\\d+}/behaviour", factory=R + "SectionContext"
    )
    config.add_route(
        "behaviour.incident_new",
        "/students/{student_id:\\d+}/incidents/new",
        factory=R + "StudentContext",
    )
    config.add_route(
        "behaviour.incident_edit",
        "/incidents/{incident_id:\\d+}/edit",
        factory=RA + "IncidentContext",
    )

    # Early-warning flags and their thresholds.
    config.add_route("flags.school", "/schools/{school_id:\\d+}/flags", factory=R + "SchoolContext")
    config.add_route(
        "flags.recompute_school",
        "/schools/{school_id:\\d+}/flags/recompute",
        factory=R + "SchoolContext",
    )
    config.add_route(
        "flags.section", "/sections/{section_id:\\d+}/flags", factory=R + "SectionContext"
    )
    config.add_route(
        "flags.recompute_student",
        "/students/{student_id:\\d+}/flags/recompute",
        factory=R + "StudentContext",
    )
    config.add_route("flags.settings", "/admin/warning-settings")

    # Intervention plans and their reviews.
    config.add_route(
        "plans.new", "/students/{student_id:\\d+}/plans/new", factory=R + "StudentContext"
    )
    config.add_route("plans.view", "/plans/{plan_id:\\d+}", factory=RA + "PlanContext")
    config.add_route("plans.edit", "/plans/{plan_id:\\d+}/edit", factory=RA + "PlanContext")
    config.add_route("plans.review", "/plan-reviews/{review_id:\\d+}", factory=RA + "ReviewContext")
    config.add_route("plans.review_task", "/tasks/{task_id:\\d+}/review", factory=R + "TaskContext")
