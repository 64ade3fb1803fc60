"""The referral follow-up flow on the real Prefect engine: re-sends once per escalation level."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from health_builders import build_health
from sqlalchemy import select

from spets.models import OutboxMessage, ReferralState
from spets.models.health import Referral, ReferralEscalation
from spets.services import referrals
from spets.services.audit import Actor
from spets.workflows.deployments import SCHEDULES, deployment_names
from spets.workflows.health import referral_follow_up
from spets.workflows.runtime import run_flow

KARACHI = ZoneInfo("Asia/Karachi")
LEVEL_1 = datetime(2026, 12, 11, 0, 45, tzinfo=KARACHI).astimezone(UTC)  # night after due
LEVEL_2 = datetime(2026, 12, 18, 0, 45, tzinfo=KARACHI).astimezone(UTC)  # five school days on


def referral_ids(world) -> tuple[int, int]:
    health_world = world.extension
    return health_world.referral_a.id, health_world.referral_b.id


def resent_keys(session, referral_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(OutboxMessage.key).where(
                OutboxMessage.key.like(f"fhir:referral:{referral_id}:resent-%")
            )
        )
    )


def test_follow_up_flow_resends_once_per_level(build_world, write_config, flow_env):
    world = build_world(build_health)
    referral_a, _ = referral_ids(world)
    config = write_config()

    first = run_flow(referral_follow_up, now=LEVEL_1, config=config)
    again = run_flow(referral_follow_up, now=LEVEL_1, config=config)
    second = run_flow(referral_follow_up, now=LEVEL_2, config=config)

    assert first.resent >= 1
    assert first.levels_recorded >= 1
    assert (again.levels_recorded, again.resent) == (0, 0)
    assert second.resent >= 1
    with flow_env.session_factory() as session:
        assert resent_keys(session, referral_a) == [
            f"fhir:referral:{referral_a}:resent-1",
            f"fhir:referral:{referral_a}:resent-2",
        ]
        levels = session.scalars(
            select(ReferralEscalation.level).where(ReferralEscalation.referral_id == referral_a)
        ).all()
        assert sorted(levels) == [1, 2]


def test_follow_up_flow_leaves_answered_referrals_alone(build_world, write_config, flow_env):
    world = build_world(build_health)
    referral_a, _ = referral_ids(world)
    with flow_env.session_factory() as session, session.begin():
        referrals.acknowledge(
            session,
            session.get(Referral, referral_a),
            actor=Actor(world.extension.staff_bhu_a.id),
            now=world.now,
        )
        referrals.record_seen(
            session,
            session.get(Referral, referral_a),
            actor=Actor(world.extension.staff_bhu_a.id),
            now=world.now,
        )

    run_flow(referral_follow_up, now=LEVEL_2, config=write_config())

    with flow_env.session_factory() as session:
        assert session.get(Referral, referral_a).state == ReferralState.SEEN
        assert resent_keys(session, referral_a) == []


def test_follow_up_flow_is_deployed_after_escalations():
    assert "referral-follow-up/spets" in deployment_names()
    escalate_minute = int(SCHEDULES["escalate"].split()[0])
    follow_up_minute = int(SCHEDULES["referral-follow-up"].split()[0])
    assert follow_up_minute > escalate_minute
