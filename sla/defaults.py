"""The limits of DESIGN.md's table as policy V1.0, and the mainland China calendar.

Installed after ``migrate`` when there are none, so every installation starts with working
limits; the administrators change them by adding versions in the back-office.

Hour and minute limits of ordinary complaints count working time (a complaint arriving
on Saturday night is classified within the first working hour on Monday); urgent ones count
calendar time, round the clock. Critical complaints take, stage by stage, the shortest
limit of every matching policy (see ``sla.policies``), so they run on the urgent limits
unless a stricter policy exists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# stage: (amount, unit, basis) for normal and for urgent complaints.
STANDARD = {
    "classify": (1, "hours", "business"),
    "assign": (30, "minutes", "business"),
    "accept": (24, "hours", "calendar"),
    "plan": (24, "hours", "calendar"),
    "reply": (12, "hours", "calendar"),
    "cycle": (5, "days", "business"),
    "follow_up": (1, "days", "business"),
    "contact": (2, "hours", "business"),
    "review": (1, "days", "business"),
}
URGENT = {
    "classify": (1, "hours", "calendar"),
    "assign": (30, "minutes", "calendar"),
    "accept": (2, "hours", "calendar"),
    "plan": (24, "hours", "calendar"),
    "reply": (12, "hours", "calendar"),
    "cycle": (3, "days", "business"),
    "follow_up": (1, "days", "business"),
    "contact": (2, "hours", "calendar"),
    "review": (1, "days", "business"),
}
# level, recipients, (delay after the due time), stage ("" = every stage)
STANDARD_CHAIN = [
    (1, "head", (0, "minutes", "business"), ""),
    (2, "supervisor", (1, "days", "business"), ""),
    # Missing details not chased in time go to the intake supervisor (DESIGN.md).
    (1, "supervisor", (0, "minutes", "business"), "contact"),
    # A review waiting for supervisors is theirs to hear about, not the department's.
    (1, "supervisor", (0, "minutes", "business"), "review"),
]
URGENT_CHAIN = [
    (1, "head", (0, "minutes", "calendar"), ""),
    (2, "supervisor", (2, "hours", "calendar"), ""),
    (3, "on_call", (4, "hours", "calendar"), ""),
    (1, "supervisor", (0, "minutes", "calendar"), "contact"),
    (1, "supervisor", (0, "minutes", "calendar"), "review"),
]
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def install(apps: Any) -> None:
    """Create the default calendar and policies where there are none (idempotent)."""
    calendar_model = apps.get_model("sla", "BusinessCalendar")
    policy_model = apps.get_model("sla", "Policy")
    if not calendar_model.objects.exists():
        calendar_model.objects.create(
            code="china-mainland",
            name_zh="中国大陆工作日历",
            name_en="China mainland",
            timezone="Asia/Shanghai",
            working_hours="09:00-12:00, 13:00-18:00",
            china_holidays=True,
            is_default=True,
        )
    if policy_model.objects.exists():
        return
    for code, zh, en, priority, targets, chain in (
        ("standard", "标准时限", "Standard limits", "", STANDARD, STANDARD_CHAIN),
        ("urgent", "紧急事项时限", "Urgent matters", "urgent", URGENT, URGENT_CHAIN),
    ):
        policy = policy_model.objects.create(
            code=code, name_zh=zh, name_en=en, priority=priority, is_active=True
        )
        _version(apps, policy, targets, chain)


def _version(apps: Any, policy: Any, targets: dict[str, Any], chain: list[Any]) -> None:
    version = apps.get_model("sla", "PolicyVersion").objects.create(
        policy=policy,
        label="V1.0",
        effective_from=SINCE,
        note="Seed process standard (DESIGN.md).",
    )
    target_model = apps.get_model("sla", "StageTarget")
    step_model = apps.get_model("sla", "EscalationStep")
    target_model.objects.bulk_create(
        target_model(version=version, stage=stage, amount=a, unit=u, basis=b)
        for stage, (a, u, b) in targets.items()
    )
    step_model.objects.bulk_create(
        step_model(
            version=version, level=level, recipients=who, amount=a, unit=u, basis=b, stage=stage
        )
        for level, who, (a, u, b), stage in chain
    )


def install_after_migrate(sender: Any = None, **kwargs: Any) -> None:
    """post_migrate: install the defaults with the migrated models, if missing."""
    apps = kwargs.get("apps")
    if apps is None:
        from django.apps import apps
    install(apps)
