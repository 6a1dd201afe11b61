"""Complaints in any state, built directly (the state machine is tested elsewhere)."""

from __future__ import annotations

from typing import Any, cast

import factory
from django.utils import timezone

from complaints import tracking
from complaints.models import Complaint, Petitioner, Reply


class PetitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Petitioner

    name = "张伟"
    phone = "13812345678"
    email = "zhangwei@example.com"


class ComplaintFactory(factory.django.DjangoModelFactory):
    """``ComplaintFactory(status="in_progress", department=d, assignee=u)``."""

    class Meta:
        model = Complaint

    tracking_code = factory.LazyFunction(tracking.new_tracking_code)
    secret_hash = factory.LazyFunction(lambda: tracking.hash_secret(tracking.new_secret()))
    channel = Complaint.Channel.WEB
    title = factory.Sequence(lambda n: f"路灯损坏 {n}")
    content = "小区门口的路灯坏了两周。"
    petitioner = factory.SubFactory(PetitionerFactory)
    received_at = factory.LazyFunction(timezone.now)


def complaint_in(status: str, **fields: Any) -> Complaint:
    """A complaint in ``status`` with the fields that state implies (as far as given)."""
    if status == Complaint.Status.NEEDS_INFO:
        fields.setdefault("resume_status", Complaint.Status.RECEIVED)
    return cast(Complaint, ComplaintFactory(status=status, **fields))


def approved_draft(complaint: Complaint, body: str = "已处理完毕。", **fields: Any) -> Reply:
    fields.setdefault("required_levels", 1)
    fields.setdefault("approved_level", fields["required_levels"])
    return Reply.objects.create(
        complaint=complaint, body=body, approved_at=timezone.now(), **fields
    )
