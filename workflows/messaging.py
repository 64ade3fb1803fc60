"""Outbox delivery: send the e-mails, SMS and in-app notifications that are due.

Each round is a Prefect task run that claims up to `limit` due messages and sends each in
its own transaction (`services.messaging.deliver_pending`). A claimed message is held for
five minutes, so an overlapping flow run takes other messages and a crashed round's
messages wait five minutes before another round retries them. A message marked sent is
never sent again.
"""

from dataclasses import dataclass, field
from datetime import datetime

from prefect import flow, get_run_logger

from spets.services import fhir, messaging
from spets.workflows.database import database_task
from spets.workflows.runtime import get_runtime, log_event, resolve_now


@dataclass
class DeliverySummary:
    sent: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    gave_up: int = 0
    rounds: int = 0


@database_task(name="deliver-messages", task_run_name="deliver-messages-round-{round_number}")
def deliver_round(
    round_number: int, now: datetime, limit: int, config: str | None
) -> messaging.DeliveryResult:
    """Claim up to `limit` due messages and send each one; failures wait with a backoff."""
    runtime = get_runtime(config)
    senders = messaging.Senders.from_settings(runtime.settings, runtime.var_dir)
    fhir.register_sender(senders, runtime.settings)
    result = messaging.deliver_pending(runtime.session_factory, senders, now, limit)
    logger = get_run_logger()
    log_event(
        logger,
        "messages_delivered",
        round=round_number,
        failed=result.failed,
        gave_up=result.gave_up,
        **{f"sent_{channel}": count for channel, count in sorted(result.sent.items())},
    )
    if result.failed or result.gave_up:
        # The service logs each failing message id with its error on the `spets` logger.
        logger.warning(
            "messages_not_delivered round=%s failed=%s gave_up=%s",
            round_number,
            result.failed,
            result.gave_up,
            extra={"round": round_number, "failed": result.failed, "gave_up": result.gave_up},
        )
    return result


@flow(name="deliver-outbox")
async def deliver_outbox(
    now: datetime | None = None, limit: int = 200, max_rounds: int = 25, config: str | None = None
) -> DeliverySummary:
    """Deliver due messages, `limit` a round, until a round finds fewer or `max_rounds` ran.

    `now` defaults to the time the flow starts; `config` to $SPETS_CONFIG or development.ini.
    """
    now = resolve_now(now)
    if limit < 1 or max_rounds < 1:
        raise ValueError(f"limit={limit} and max_rounds={max_rounds} must both be 1 or more.")
    summary = DeliverySummary()
    for round_number in range(1, max_rounds + 1):
        result = await deliver_round(round_number, now, limit, config)
        summary.rounds += 1
        for channel, count in result.sent.items():
            summary.sent[channel] = summary.sent.get(channel, 0) + count
        summary.failed += result.failed
        summary.gave_up += result.gave_up
        if sum(result.sent.values()) + result.failed + result.gave_up < limit:
            break
    log_event(
        get_run_logger(),
        "deliver_outbox_done",
        now=now.isoformat(),
        rounds=summary.rounds,
        failed=summary.failed,
        gave_up=summary.gave_up,
        **{f"sent_{channel}": count for channel, count in sorted(summary.sent.items())},
    )
    return summary
