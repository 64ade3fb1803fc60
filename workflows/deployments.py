"""The deployments of the SPeTS flows and their schedules in Karachi time.

One machine serves them all from one process with `serve_deployments` (`spets worker`). At
region scale `apply_to_work_pool` registers them with a process work pool once (`spets
deploy`), and any number of `prefect worker start` processes run them.

The entrypoints are module paths (`spets.workflows.cycles.calendar_tick`), so a flow run
finds its code wherever the spets package is installed, whatever the working directory.
Flow runs read the ini file named by SPETS_CONFIG in the worker's environment.
"""

from prefect import serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from spets.workflows.attendance import (
    ABSENCE_NOTICES_SCHEDULE,
    EARLY_WARNINGS_SCHEDULE,
    absence_notices,
    early_warnings,
)
from spets.workflows.cycles import calendar_tick
from spets.workflows.engine import escalate, send_reminders
from spets.workflows.health import referral_follow_up
from spets.workflows.messaging import deliver_outbox
from spets.workflows.ptm import SCHEDULE as PARENTS_SWEEP_SCHEDULE
from spets.workflows.ptm import parents_sweep
from spets.workflows.runtime import SCHEDULE_ZONE

DEPLOYMENT_NAME = "spets"

# Cron expressions in SCHEDULE_ZONE. The tick opens the day's tasks after local midnight.
# Escalation levels fire at local midnight after a due date, so the 00:30 run finds them.
# The referral follow-up re-sends what the 00:30 escalations found still waiting.
# Reminders fire on the hour each cycle sets, so an hourly run finds them.
SCHEDULES = {
    "calendar-tick": "15 0 * * *",
    "escalate": "30 0 * * *",
    "referral-follow-up": "45 0 * * *",
    "send-reminders": "0 * * * *",
    "deliver-outbox": "* * * * *",
    "absence-notices": ABSENCE_NOTICES_SCHEDULE,
    "early-warnings": EARLY_WARNINGS_SCHEDULE,
    "parents-sweep": PARENTS_SWEEP_SCHEDULE,
}

FLOWS = (
    calendar_tick,
    escalate,
    referral_follow_up,
    send_reminders,
    deliver_outbox,
    parents_sweep,
    absence_notices,
    early_warnings,
)


def build_deployments() -> list[RunnerDeployment]:
    """Return one deployment per flow, named `<flow name>/spets`, with its cron schedule."""
    return [
        flow.to_deployment(
            DEPLOYMENT_NAME,
            schedules=[Cron(SCHEDULES[flow.name], timezone=SCHEDULE_ZONE)],
            entrypoint_type=EntrypointType.MODULE_PATH,
            tags=["spets"],
        )
        for flow in FLOWS
    ]


def deployment_names() -> list[str]:
    return [f"{flow.name}/{DEPLOYMENT_NAME}" for flow in FLOWS]


def serve_deployments(limit: int | None = None) -> None:
    """Serve every deployment from this process until SIGTERM or Ctrl+C.

    `limit` caps how many flow runs execute at once; None leaves it to Prefect (no cap).
    """
    serve(*build_deployments(), limit=limit, print_starting_message=False)


def apply_to_work_pool(work_pool_name: str) -> list[str]:
    """Create or update every deployment on a work pool; return their names."""
    for deployment in build_deployments():
        deployment.apply(work_pool_name=work_pool_name)
    return deployment_names()
