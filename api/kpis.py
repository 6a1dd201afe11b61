"""``GET /kpis/``: the figures of the reports page (``reporting.kpis``), for the same
people and with the same department lock."""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import StaffOnly
from api.serializers import (
    Reference,
    reference,
)
from complaints.models import Complaint, Petitioner
from reporting import kpis
from reporting.access import department_lock
from reporting.filters import DEFAULT_PERIOD, MAX_DAYS
from routing.models import Category, Department

logger = logging.getLogger(__name__)


# --- Key figures ------------------------------------------------------------------------


class KpiQuery(serializers.Serializer[Any]):
    """The reports page's period and scope. Dates are days in TIME_ZONE, both inclusive."""

    start = serializers.DateField(
        required=False, help_text="First day (with `to`); by default this month."
    )
    to = serializers.DateField(required=False, help_text="Last day, inclusive.")
    department = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Department.objects.all(),
        required=False,
        help_text="A department head may ask for their own department only.",
    )
    category = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Category.objects.all(),
        required=False,
        help_text="Includes its sub-categories.",
    )
    channel = serializers.ChoiceField(choices=Complaint.Channel.choices, required=False)
    kind = serializers.ChoiceField(choices=Complaint.Kind.choices, required=False)
    petitioner_type = serializers.ChoiceField(choices=Petitioner.Type.choices, required=False)

    def get_fields(self) -> dict[str, Any]:
        # "from" is a Python keyword: declared as ``start``, read and documented as ``from``.
        found = super().get_fields()
        return {"from": found.pop("start"), **found}

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        start, end = data.get("from"), data.get("to")
        if (start is None) != (end is None):
            raise serializers.ValidationError(_("Give both dates, `from` and `to`, or neither."))
        if start and end:
            if end < start:
                raise serializers.ValidationError({"to": _("The period ends before it starts.")})
            if (end - start).days >= MAX_DAYS:
                raise serializers.ValidationError(
                    {"to": _("A period can be at most %(days)s days long.") % {"days": MAX_DAYS}}
                )
        return data


class PeriodOut(serializers.Serializer[Any]):
    start = serializers.DateField()
    to = serializers.DateField(help_text="Inclusive.")

    def get_fields(self) -> dict[str, Any]:
        found = super().get_fields()
        return {"from": found.pop("start"), **found}


class ScopeOut(serializers.Serializer[Any]):
    department = Reference(allow_null=True)
    category = Reference(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    kind = serializers.CharField(allow_null=True)
    petitioner_type = serializers.CharField(allow_null=True)


def _rate(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=f"{help_text} (0–1); null: no data.")


def _seconds(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        allow_null=True, help_text=f"{help_text}, in seconds; null: no data."
    )


class KpiFigures(serializers.Serializer[Any]):
    """``reporting.kpis.Kpis``: complaints count in the period of the day they came in."""

    volume = serializers.IntegerField(help_text="Complaints received.")
    first_response_count = serializers.IntegerField()
    first_response_median_seconds = _seconds("Receipt to acceptance, median")
    first_response_p90_seconds = _seconds("Receipt to acceptance, 90th percentile")
    resolution_count = serializers.IntegerField()
    resolution_median_seconds = _seconds("Receipt to first reply, median")
    resolution_p90_seconds = _seconds("Receipt to first reply, 90th percentile")
    on_time_rate = _rate("Deadlines of the whole cycle met")
    on_time_by_stage = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="Per SLA stage; null: no data."
    )
    overdue = serializers.IntegerField()
    overdue_rate = _rate("Complaints with a breached deadline")
    surveys_answered = serializers.IntegerField()
    satisfaction_average = serializers.FloatField(allow_null=True, help_text="Rating 1–5.")
    satisfaction_rate = _rate("Answered surveys that were satisfied")
    replied = serializers.IntegerField()
    reopened = serializers.IntegerField()
    reopen_rate = _rate("Reopened of replied")
    repeat_petitions = serializers.IntegerField()
    repeat_rate = _rate("From petitioners who complained before")
    closed = serializers.IntegerField()
    first_contact_resolved = serializers.IntegerField()
    first_contact_resolution_rate = _rate("Closed at the first reply, satisfied")


class KpiOut(serializers.Serializer[Any]):
    period = PeriodOut()
    scope = ScopeOut()
    figures = KpiFigures()


def figures(found: kpis.Kpis) -> dict[str, Any]:
    """The figures as JSON: durations in whole seconds (``<name>_seconds``), None kept."""
    result: dict[str, Any] = {}
    for item in fields(found):
        value = getattr(found, item.name)
        if isinstance(value, timedelta):
            result[f"{item.name}_seconds"] = round(value.total_seconds())
        elif item.name.endswith(("_median", "_p90")):
            result[f"{item.name}_seconds"] = None
        elif item.name == "on_time_by_stage":
            result[item.name] = dict(value)
        else:
            result[item.name] = value
    return result


class KpiRead(APIView):
    permission_classes = [*APIView.permission_classes, StaffOnly]

    @extend_schema(
        operation_id="kpis_read",
        summary="Key figures for a period and scope",
        tags=["reporting"],
        parameters=[KpiQuery],
        responses={200: KpiOut},
    )
    def get(self, request: Request) -> Response:
        try:
            lock = department_lock(request.user)
        except DjangoPermissionDenied as error:
            raise exceptions.PermissionDenied(
                _("Only people who may read the reports may read the key figures.")
            ) from error
        query = KpiQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        department = data.get("department")
        if lock is not None:
            if department is not None and department.pk != lock:
                raise exceptions.PermissionDenied(
                    _("You may read the figures of your own department only.")
                )
            department = Department.objects.get(pk=lock)
        if data.get("from"):
            period = kpis.Period(data["from"], data["to"] + timedelta(days=1))
        else:
            period = kpis.Period.preset(DEFAULT_PERIOD, today=timezone.localdate())
        category = data.get("category")
        scope = kpis.Scope(
            department_id=department.pk if department else None,
            category_id=category.pk if category else None,
            channel=data.get("channel") or None,
            kind=data.get("kind") or None,
            petitioner_type=data.get("petitioner_type") or None,
        )
        body = {
            "period": {"from": period.start, "to": period.end - timedelta(days=1)},
            "scope": {
                "department": reference(department),
                "category": reference(category),
                "channel": scope.channel,
                "kind": scope.kind,
                "petitioner_type": scope.petitioner_type,
            },
            "figures": figures(kpis.kpis(scope, period)),
        }
        return Response(KpiOut(body).data)
