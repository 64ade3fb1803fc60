"""Route contexts of the attendance, behaviour, early-warning and plan pages.

They follow `webapp.resources`: a record outside the principal's scope answers 404, a
record the principal may see but not act on answers 403 for that action.
"""

from spets.models import Incident, InterventionPlan, InterventionReview
from spets.services.scope import Permission as P
from spets.webapp.resources import (
    RecordContext,
    TaskContext,
    _current_section_id,
    _get_or_404,
)


class IncidentContext(RecordContext):
    """An incident: any teacher of the student's section, and the head teacher, may change it."""

    view_permission = P.INCIDENT_RECORD
    known_permission = P.STUDENT_VIEW

    def load(self, request):
        self.incident = _get_or_404(request, Incident, "incident_id")
        self.student = self.incident.student
        self.org_path = self.student.school.path
        self.section_id = _current_section_id(request, self.student.id)


class PlanContext(RecordContext):
    """An intervention plan: seen with the flags of its student; its owner may also review it."""

    view_permission = P.FLAGS_LIST
    known_permission = P.STUDENT_VIEW

    def load(self, request):
        self.plan = _get_or_404(request, InterventionPlan, "plan_id")
        self._attach(request)

    def _attach(self, request):
        self.student = self.plan.student
        self.org_path = self.student.school.path
        self.section_id = _current_section_id(request, self.student.id)

    def permissions_for(self, principal):
        permissions = set(principal.permissions_at(self.org_path, self.section_id))
        if principal.user_id == self.plan.owner_id and P.STUDENT_VIEW in permissions:
            permissions |= {P.FLAGS_LIST, P.PLAN_MANAGE}
        return frozenset(permissions)


class ReviewContext(PlanContext):
    def load(self, request):
        self.review = _get_or_404(request, InterventionReview, "review_id")
        self.plan = self.review.plan
        self._attach(request)


class RubricTaskContext(TaskContext):
    """A behaviour rubric task: whoever may rate the section's behaviour works on it too."""

    def permissions_for(self, principal):
        permissions = set(super().permissions_for(principal))
        over_section = principal.permissions_at(self.org_path, self.section_id)
        if P.BEHAVIOUR_RUBRIC in over_section:
            permissions |= {P.TASK_VIEW, P.TASK_WORK, P.BEHAVIOUR_RUBRIC}
        return frozenset(permissions)
