"""The sampling audit: each month, auditors check a random share of last month's closed cases.

On the 1st, beat draws ``AUDIT_SAMPLE_PERCENT`` per cent (rounded up, so at least one when
there is any) of the complaints closed in the previous month — closed by the survey or by
staff, archived since or not — and hands them out in turn to the active auditors, who
are told. The draw is reproducible: the random generator is seeded with the month (and
the site's secret key, so nobody can work out beforehand which cases will be drawn),
and the population is read in a fixed order; a second run finds the month drawn and
changes nothing.

Each sample is checked against a fixed checklist (``CHECKLIST``: pass, fail or not
applicable per item), with an overall verdict and the findings in words. Only the
assigned auditor, or an administrator, records them; once recorded they are final.
Supervisors and administrators see every sample and the pass rate of each item.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import User
from accounts.roles import Role
from complaints.models import Complaint
from notifications.services import notify
from reporting.products import AuditSample
from reporting.scheduled import start_of

logger = logging.getLogger(__name__)

PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "na"
ANSWERS = [
    (PASS, gettext_lazy("pass")),
    (FAIL, gettext_lazy("fail")),
    (NOT_APPLICABLE, gettext_lazy("not applicable")),
]
CHECKLIST = [
    ("classification", gettext_lazy("Classification correct")),
    ("on_time", gettext_lazy("Handled within the time limits")),
    ("reply", gettext_lazy("Reply complete and courteous")),
    ("personal_data", gettext_lazy("Personal data handled properly")),
    ("follow_up", gettext_lazy("Petitioner's satisfaction followed up")),
]
# Closed by the survey or by staff: the complaints that went through the whole process
# (rejected, merged and withdrawn ones have a closing time too, but no close reason).
_CLOSED = Q(status__in=["closed", "archived"]) & ~Q(close_reason="")


# --- Who ----------------------------------------------------------------------------------


def is_administrator(user: Any) -> bool:
    return bool(user and user.is_active and (user.is_superuser or Role.ADMINISTRATOR in user.roles))


def oversees(user: Any) -> bool:
    """Supervisors and administrators: every sample, and the summary."""
    return is_administrator(user) or bool(user and user.is_active and Role.SUPERVISOR in user.roles)


def is_auditor(user: Any) -> bool:
    return bool(user and user.is_active and Role.AUDITOR in user.roles)


def may_use(user: Any) -> bool:
    return is_auditor(user) or oversees(user)


def may_record(user: Any, sample: AuditSample) -> bool:
    """The assigned auditor, or an administrator, while the sample is open."""
    if sample.status != AuditSample.Status.OPEN:
        return False
    if is_administrator(user):
        return True
    return is_auditor(user) and sample.auditor_id == user.pk


def visible_samples(user: Any) -> QuerySet[AuditSample]:
    samples = AuditSample.objects.select_related("complaint", "auditor", "completed_by")
    if oversees(user):
        return samples
    if is_auditor(user):
        return samples.filter(auditor=user)
    return samples.none()


def auditors() -> list[User]:
    """Active users in the auditor role, in a fixed order (round-robin goes by it)."""
    group = Group.objects.filter(name=Role.AUDITOR.value).first()
    if group is None:
        return []
    return list(User.objects.filter(groups=group, is_active=True).order_by("username", "pk"))


# --- The draw -----------------------------------------------------------------------------


def previous_month(today: date | None = None) -> date:
    today = today or timezone.localdate()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def population(month: date) -> QuerySet[Complaint]:
    """Complaints closed in ``month`` (TIME_ZONE), in a fixed order."""
    following = (month + timedelta(days=32)).replace(day=1)
    return Complaint.objects.filter(
        _CLOSED, closed_at__gte=start_of(month), closed_at__lt=start_of(following)
    ).order_by("pk")


def sample_size(count: int, percent: float | None = None) -> int:
    """``percent`` of ``count``, rounded up: at least one of any, never more than all."""
    percent = settings.AUDIT_SAMPLE_PERCENT if percent is None else percent
    if count <= 0 or percent <= 0:
        return 0
    return min(count, max(1, math.ceil(count * percent / 100)))


def _generator(month: date) -> random.Random:
    seed = hashlib.sha256(f"{settings.SECRET_KEY}:audit:{month:%Y-%m}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def pick(month: date) -> list[int]:
    """The complaint ids drawn for ``month``: the same ones every time it is asked."""
    ids = list(population(month).values_list("pk", flat=True))
    return sorted(_generator(month).sample(ids, sample_size(len(ids))))


@dataclass(frozen=True)
class Draw:
    month: date
    created: int
    samples: list[AuditSample]


def draw(month: date | None = None) -> Draw:
    """Draw and hand out the samples of ``month`` (default: last month), once.

    Idempotent: a month that has samples keeps them. Without any auditor the samples are
    drawn unassigned, for an administrator to record or for auditors added later (a
    later run hands out what is unassigned). Auditors are told what they got.
    """
    month = (month or previous_month()).replace(day=1)
    with transaction.atomic():
        existing = list(AuditSample.objects.filter(month=month).order_by("pk"))
        created = 0
        if not existing:
            samples = [AuditSample(month=month, complaint_id=pk) for pk in pick(month)]
            existing = AuditSample.objects.bulk_create(samples, ignore_conflicts=True)
            existing = list(AuditSample.objects.filter(month=month).order_by("pk"))
            created = len(existing)
        _hand_out(existing)
    if created:
        logger.info("drew %s audit samples for %s", created, f"{month:%Y-%m}")
    return Draw(month, created, existing)


def _hand_out(samples: list[AuditSample]) -> None:
    people = auditors()
    waiting = [s for s in samples if s.auditor_id is None and s.status == AuditSample.Status.OPEN]
    if not people or not waiting:
        if waiting:
            logger.warning("no active auditor: %s audit samples wait unassigned", len(waiting))
        return
    # Round-robin, continuing after those already holding samples of this month.
    start = sum(1 for s in samples if s.auditor_id is not None)
    given: dict[int, list[AuditSample]] = {}
    for offset, sample in enumerate(waiting):
        auditor = people[(start + offset) % len(people)]
        updated = AuditSample.objects.filter(pk=sample.pk, auditor__isnull=True).update(
            auditor=auditor
        )
        if updated:
            sample.auditor = auditor
            given.setdefault(auditor.pk, []).append(sample)
    for auditor in people:
        if auditor.pk in given:
            _tell(auditor, given[auditor.pk])


def _tell(auditor: User, samples: list[AuditSample]) -> None:
    month = samples[0].month
    count = len(samples)

    def compose(_recipient: Any) -> tuple[str, str]:
        subject = ngettext(
            "%(count)d complaint to audit for %(month)s",
            "%(count)d complaints to audit for %(month)s",
            count,
        ) % {"count": count, "month": f"{month:%Y-%m}"}
        body = _("Check each against the audit checklist and record your findings.")
        return subject, body

    notify(
        [auditor],
        kind="reporting.audit_samples",
        compose=compose,
        key=f"reporting.audit:{month:%Y-%m}:{min(s.pk for s in samples)}",
        channels=["in_app", "email"],
        url=reverse("reporting:audits"),
    )


# --- Findings -----------------------------------------------------------------------------


def record(
    *,
    sample_id: int,
    actor: User,
    checklist: dict[str, str],
    verdict: str,
    findings: str,
) -> AuditSample:
    """Record the auditor's answers, verdict and findings: the sample is then done, for good.

    ``PermissionDenied`` unless ``actor`` may record this sample (``may_record``).
    """
    answers = {key: checklist.get(key, "") for key, _label in CHECKLIST}
    allowed = {value for value, _label in ANSWERS}
    if any(answer not in allowed for answer in answers.values()):
        raise ValueError("an answer for every checklist item is needed")
    if verdict not in AuditSample.Verdict.values:
        raise ValueError("a verdict is needed")
    with transaction.atomic():
        sample = AuditSample.objects.select_for_update().get(pk=sample_id)
        if not may_record(actor, sample):
            raise PermissionDenied(_("You may not record findings for this sample."))
        sample.checklist = answers
        sample.verdict = verdict
        sample.findings = findings.strip()
        sample.status = AuditSample.Status.DONE
        sample.completed_at = timezone.now()
        sample.completed_by = actor
        sample.save()
    return sample


# --- Summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemSummary:
    key: str
    label: str
    passed: int
    failed: int
    not_applicable: int

    @property
    def pass_rate(self) -> float | None:
        judged = self.passed + self.failed
        return self.passed / judged if judged else None


def summary(samples: QuerySet[AuditSample]) -> tuple[list[ItemSummary], dict[str, int]]:
    """Per checklist item, how the done samples answered; and how many got each verdict."""
    done = list(samples.filter(status=AuditSample.Status.DONE).values("checklist", "verdict"))
    items = []
    for key, label in CHECKLIST:
        answers = [row["checklist"].get(key) for row in done]
        items.append(
            ItemSummary(
                key=key,
                label=str(label),
                passed=answers.count(PASS),
                failed=answers.count(FAIL),
                not_applicable=answers.count(NOT_APPLICABLE),
            )
        )
    verdicts = dict.fromkeys(AuditSample.Verdict.values, 0)
    for row in done:
        verdicts[row["verdict"]] = verdicts.get(row["verdict"], 0) + 1
    return items, verdicts
