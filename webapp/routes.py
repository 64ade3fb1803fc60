"""Every route of the web app, named ``<domain>.<action>``, with the context that guards it."""

R = "spets.webapp.resources."


def includeme(config):
    # Signing in and out, language, own account.
    config.add_route("home", "/")
    config.add_route("auth.login", "/login")
    config.add_route("auth.logout", "/logout")
    config.add_route("auth.language", "/language")
    config.add_route("account.password", "/account/password")
    config.add_route("status.live", "/healthz")

    # The org tree for browsing, and schools.
    config.add_route("org.browse", "/org")
    config.add_route("org.unit", "/org/{unit_id:\\d+}", factory=R + "OrgUnitContext")
    config.add_route("school.view", "/schools/{school_id:\\d+}", factory=R + "SchoolContext")
    config.add_route(
        "school.admit_transfer",
        "/schools/{school_id:\\d+}/admit-transfer",
        factory=R + "SchoolContext",
    )

    # Sections and teaching assignments.
    config.add_route(
        "section.new", "/schools/{school_id:\\d+}/sections/new", factory=R + "SchoolContext"
    )
    config.add_route("section.view", "/sections/{section_id:\\d+}", factory=R + "SectionContext")
    config.add_route(
        "section.edit", "/sections/{section_id:\\d+}/edit", factory=R + "SectionContext"
    )
    config.add_route(
        "section.teaching", "/sections/{section_id:\\d+}/teaching", factory=R + "SectionContext"
    )
    config.add_route(
        "teaching.end",
        "/teaching/{assignment_id:\\d+}/end",
        factory=R + "TeachingAssignmentContext",
    )

    # Students: search and export, then one student's record.
    config.add_route("students.list", "/students")
    config.add_route("students.export_csv", "/students/export.csv")
    config.add_route("students.export_xlsx", "/students/export.xlsx")
    config.add_route(
        "student.new", "/sections/{section_id:\\d+}/students/new", factory=R + "SectionContext"
    )
    config.add_route("student.view", "/students/{student_id:\\d+}", factory=R + "StudentContext")
    config.add_route(
        "student.edit", "/students/{student_id:\\d+}/edit", factory=R + "StudentContext"
    )
    config.add_route(
        "student.household", "/students/{student_id:\\d+}/household", factory=R + "StudentContext"
    )
    config.add_route(
        "student.change_section",
        "/students/{student_id:\\d+}/change-section",
        factory=R + "StudentContext",
    )
    config.add_route(
        "student.end_enrollment",
        "/students/{student_id:\\d+}/end-enrollment",
        factory=R + "StudentContext",
    )

    # Guardians and family members.
    config.add_route(
        "guardian.new", "/students/{student_id:\\d+}/guardians/new", factory=R + "StudentContext"
    )
    config.add_route(
        "guardian.edit", "/guardian-links/{link_id:\\d+}/edit", factory=R + "GuardianLinkContext"
    )
    config.add_route(
        "guardian.unlink",
        "/guardian-links/{link_id:\\d+}/unlink",
        factory=R + "GuardianLinkContext",
    )
    config.add_route(
        "family.new", "/students/{student_id:\\d+}/family/new", factory=R + "StudentContext"
    )
    config.add_route(
        "family.edit", "/family-members/{member_id:\\d+}/edit", factory=R + "FamilyMemberContext"
    )
    config.add_route(
        "family.delete",
        "/family-members/{member_id:\\d+}/delete",
        factory=R + "FamilyMemberContext",
    )

    # Imports.
    config.add_route("imports.template", "/imports/template.csv")
    config.add_route(
        "imports.new", "/schools/{school_id:\\d+}/imports/new", factory=R + "SchoolContext"
    )
    config.add_route("imports.view", "/imports/{job_id:\\d+}", factory=R + "ImportJobContext")
    config.add_route(
        "imports.progress", "/imports/{job_id:\\d+}/progress.json", factory=R + "ImportJobContext"
    )

    # The term calendar.
    config.add_route("calendar.years", "/calendar")
    config.add_route("calendar.year_new", "/calendar/new")
    config.add_route("calendar.year", "/calendar/{year_id:\\d+}", factory=R + "YearContext")
    config.add_route(
        "calendar.quarter_edit", "/quarters/{quarter_id:\\d+}/edit", factory=R + "QuarterContext"
    )
    config.add_route(
        "calendar.exam_new", "/calendar/{year_id:\\d+}/exams/new", factory=R + "YearContext"
    )
    config.add_route(
        "calendar.exam_edit", "/exams/{window_id:\\d+}/edit", factory=R + "ExamWindowContext"
    )
    config.add_route(
        "calendar.exam_delete", "/exams/{window_id:\\d+}/delete", factory=R + "ExamWindowContext"
    )
    config.add_route(
        "calendar.day_off_new", "/calendar/{year_id:\\d+}/days-off/new", factory=R + "YearContext"
    )
    config.add_route(
        "calendar.day_off_edit", "/days-off/{day_off_id:\\d+}/edit", factory=R + "DayOffContext"
    )
    config.add_route(
        "calendar.day_off_delete",
        "/days-off/{day_off_id:\\d+}/delete",
        factory=R + "DayOffContext",
    )

    # Tasks of the cycle engine, sign-off, escalations and notifications.
    config.add_route("tasks.mine", "/tasks")
    config.add_route("task.view", "/tasks/{task_id:\\d+}", factory=R + "TaskContext")
    config.add_route("task.submit", "/tasks/{task_id:\\d+}/submit", factory=R + "TaskContext")
    config.add_route("task.approve", "/tasks/{task_id:\\d+}/approve", factory=R + "TaskContext")
    config.add_route("task.return", "/tasks/{task_id:\\d+}/return", factory=R + "TaskContext")
    config.add_route("signoff.queue", "/signoff")
    config.add_route("escalations.list", "/escalations")
    config.add_route("notifications.list", "/notifications")
    config.add_route("notifications.read", "/notifications/read")

    # Quarterly subject feedback.
    config.add_route("feedback.sheet", "/tasks/{task_id:\\d+}/feedback", factory=R + "TaskContext")
    config.add_route(
        "feedback.overview", "/schools/{school_id:\\d+}/feedback", factory=R + "SchoolContext"
    )
    config.add_route("feedback.catalogue", "/admin/feedback-catalogue")
    config.add_route("feedback.catalogue_new", "/admin/feedback-catalogue/new")
    config.add_route("feedback.catalogue_edit", "/admin/feedback-catalogue/{item_id:\\d+}/edit")

    # Exam results: the marks grid of a task, sheets, sign-off, amendments, report cards.
    config.add_route(
        "results.task_sheet", "/tasks/{task_id:\\d+}/results", factory=R + "TaskContext"
    )
    S = "/result-sheets/{sheet_id:\\d+}"
    config.add_route("results.sheet", S, factory=R + "ResultSheetContext")
    config.add_route("results.settings", S + "/settings", factory=R + "ResultSheetContext")
    config.add_route("results.download_csv", S + "/marks.csv", factory=R + "ResultSheetContext")
    config.add_route("results.download_xlsx", S + "/marks.xlsx", factory=R + "ResultSheetContext")
    config.add_route("results.upload", S + "/upload", factory=R + "ResultSheetContext")
    config.add_route("results.submit", S + "/submit", factory=R + "ResultSheetContext")
    config.add_route("results.verify", S + "/verify", factory=R + "ResultSheetContext")
    config.add_route("results.publish", S + "/publish", factory=R + "ResultSheetContext")
    config.add_route("results.return", S + "/return", factory=R + "ResultSheetContext")
    config.add_route("results.history", S + "/history", factory=R + "ResultSheetContext")
    config.add_route("results.amend", S + "/amend", factory=R + "ResultSheetContext")
    config.add_route("results.amendments", "/amendments")
    config.add_route(
        "results.amendment", "/amendments/{amendment_id:\\d+}", factory=R + "AmendmentContext"
    )
    config.add_route(
        "results.section", "/sections/{section_id:\\d+}/results", factory=R + "SectionContext"
    )
    config.add_route("results.grade_scale", "/admin/grade-scale")
    config.add_route("results.options", "/admin/result-options")
    config.add_route(
        "reportcards.student",
        "/students/{student_id:\\d+}/report-card.pdf",
        factory=R + "StudentContext",
    )
    config.add_route(
        "reportcards.section",
        "/sections/{section_id:\\d+}/report-cards.pdf",
        factory=R + "SectionContext",
    )

    # Administration of the tenant: org tree, users and roles, subjects, audit trail.
    config.add_route("admin.home", "/admin")
    config.add_route("admin.org", "/admin/org/{unit_id:\\d+}", factory=R + "AdminOrgUnitContext")
    config.add_route(
        "admin.org_new", "/admin/org/{unit_id:\\d+}/new", factory=R + "AdminOrgUnitContext"
    )
    config.add_route(
        "admin.org_edit", "/admin/org/{unit_id:\\d+}/edit", factory=R + "AdminOrgUnitContext"
    )
    config.add_route(
        "admin.org_move", "/admin/org/{unit_id:\\d+}/move", factory=R + "AdminOrgUnitContext"
    )
    config.add_route("admin.users", "/admin/users")
    config.add_route("admin.user_new", "/admin/users/new")
    config.add_route("admin.user", "/admin/users/{user_id:\\d+}", factory=R + "UserContext")
    config.add_route(
        "admin.user_edit", "/admin/users/{user_id:\\d+}/edit", factory=R + "UserContext"
    )
    config.add_route(
        "admin.user_password", "/admin/users/{user_id:\\d+}/password", factory=R + "UserContext"
    )
    config.add_route(
        "admin.role_new", "/admin/users/{user_id:\\d+}/roles/new", factory=R + "UserContext"
    )
    config.add_route(
        "admin.role_end",
        "/admin/roles/{assignment_id:\\d+}/end",
        factory=R + "RoleAssignmentContext",
    )
    config.add_route("admin.subjects", "/admin/subjects")
    config.add_route("admin.subject_new", "/admin/subjects/new")
    config.add_route(
        "admin.subject_edit", "/admin/subjects/{subject_id:\\d+}/edit", factory=R + "SubjectContext"
    )
    config.add_route("audit.list", "/audit")

    # Attendance and behaviour, health and well-being, parents: each domain's own module.
    config.include("spets.webapp.routes_attendance")
    config.include("spets.webapp.routes_health")
    config.include("spets.webapp.routes_parents")
    config.add_route("cycles.list", "/admin/cycles")
    config.add_route(
        "cycles.edit",
        "/admin/cycles/{definition_id:\\d+}/edit",
        factory=R + "CycleDefinitionContext",
    )
