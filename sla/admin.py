"""Back-office for time limits: calendars, versioned policies, deadlines, extensions.

A policy version in force is never edited: "Draft the next version" copies it into a new
version, editable until it takes effect. Deadlines, warnings and escalations are records,
read-only. Extension requests are decided through the same service as in the console.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from complaints.admin import ComplaintAdmin, ReadOnlyInline
from complaints.errors import DomainError
from ops.admin import RecordAdmin
from sla import services
from sla.models import (
    BusinessCalendar,
    CalendarDay,
    Deadline,
    EnteredYear,
    EscalationStep,
    ExtensionRequest,
    Policy,
    PolicyVersion,
    SlaAction,
    StageTarget,
)
from sla.policies import engine_of

# --- Calendars --------------------------------------------------------------------------


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1


class EnteredYearInline(admin.TabularInline):
    model = EnteredYear
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_zh",
        "name_en",
        "working_hours",
        "china_holidays",
        "is_default",
        "years_known",
    )
    filter_horizontal = ("departments",)
    inlines = [CalendarDayInline, EnteredYearInline]

    @admin.display(description=_("this year / next year known"))
    def years_known(self, obj: BusinessCalendar) -> str:
        engine = engine_of(obj)
        year = timezone.localdate().year
        return " / ".join(f"{y} {'✓' if engine.known(y) else '✗'}" for y in (year, year + 1))


# --- Policies ---------------------------------------------------------------------------


class VersionLinkInline(ReadOnlyInline):
    model = PolicyVersion
    fields = ("label", "effective_from", "warn_ratio", "note", "created_by", "created_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_zh",
        "name_en",
        "category",
        "priority",
        "kind",
        "is_active",
        "current_version",
    )
    list_filter = ("is_active", "priority", "kind")
    search_fields = ("code", "name_zh", "name_en")
    inlines = [VersionLinkInline]

    @admin.display(description=_("version in force"))
    def current_version(self, obj: Policy) -> str:
        version = obj.versions.filter(effective_from__lte=timezone.now()).first()
        return version.label if version else "—"


class _VersionPart(admin.TabularInline):
    extra = 0

    def _frozen(self, obj: PolicyVersion | None) -> bool:
        return obj is not None and obj.in_force

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._frozen(obj) and super().has_delete_permission(request, obj)


class StageTargetInline(_VersionPart):
    model = StageTarget


class EscalationStepInline(_VersionPart):
    model = EscalationStep


def _next_label(label: str) -> str:
    match = re.fullmatch(r"(.*?)(\d+)", label)
    return f"{match.group(1)}{int(match.group(2)) + 1}" if match else f"{label}.1"


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("policy", "label", "effective_from", "in_force_now", "created_by")
    list_filter = ("policy",)
    inlines = [StageTargetInline, EscalationStepInline]
    actions = ["draft_next_version"]
    fields = ("policy", "label", "effective_from", "warn_ratio", "note")

    @admin.display(description=_("in force"), boolean=True)
    def in_force_now(self, obj: PolicyVersion) -> bool:
        return obj.in_force

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.in_force:
            return self.fields  # history: never rewritten
        return ()

    def save_model(self, request: HttpRequest, obj: PolicyVersion, form: Any, change: bool) -> None:
        if obj.effective_from < timezone.now() - timedelta(minutes=5):
            messages.warning(
                request,
                _("A version cannot start in the past; it starts now instead."),
            )
            obj.effective_from = timezone.now()
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Draft the next version (copy, in force from tomorrow)"))
    def draft_next_version(self, request: HttpRequest, queryset: QuerySet[PolicyVersion]) -> None:
        tomorrow = timezone.localdate() + timedelta(days=1)
        start = timezone.make_aware(datetime.combine(tomorrow, time.min))
        for version in queryset.select_related("policy"):
            with transaction.atomic():
                label = _next_label(version.label)
                while PolicyVersion.objects.filter(policy=version.policy, label=label).exists():
                    label = _next_label(label)
                new = PolicyVersion.objects.create(
                    policy=version.policy,
                    label=label,
                    effective_from=start,
                    warn_ratio=version.warn_ratio,
                    note="",
                    created_by=request.user,  # type: ignore[misc]
                )
                StageTarget.objects.bulk_create(
                    StageTarget(
                        version=new, stage=t.stage, amount=t.amount, unit=t.unit, basis=t.basis
                    )
                    for t in version.targets.all()
                )
                EscalationStep.objects.bulk_create(
                    EscalationStep(
                        version=new,
                        level=s.level,
                        recipients=s.recipients,
                        stage=s.stage,
                        amount=s.amount,
                        unit=s.unit,
                        basis=s.basis,
                    )
                    for s in version.escalation_steps.all()
                )
            messages.success(
                request,
                _("%(policy)s %(label)s drafted; edit it before it takes effect.")
                % {"policy": version.policy, "label": label},
            )


# --- Deadlines and what happened to them -----------------------------------------------


class DeadlineInline(ReadOnlyInline):
    model = Deadline
    fields = (
        "stage",
        "state",
        "started_at",
        "warn_at",
        "due_at",
        "escalation_level",
        "closed_at",
        "policy_version",
        "provisional",
    )
    readonly_fields = fields
    ordering = ("started_at", "id")


ComplaintAdmin.inlines = [DeadlineInline, *ComplaintAdmin.inlines]


@admin.register(Deadline)
class DeadlineAdmin(RecordAdmin):
    list_display = (
        "complaint",
        "stage",
        "state",
        "due_at",
        "overdue",
        "escalation_level",
        "round",
        "provisional",
        "policy_version",
    )
    list_filter = ("state", "stage", "escalation_level", "provisional")
    list_select_related = ("complaint", "policy_version__policy")
    search_fields = ("complaint__tracking_code",)
    date_hierarchy = "due_at"

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, obj: Deadline) -> bool:
        return obj.is_overdue


@admin.register(SlaAction)
class SlaActionAdmin(RecordAdmin):
    list_display = ("created_at", "kind", "level", "round", "deadline", "recipients")
    list_filter = ("kind", "level")
    list_select_related = ("deadline__complaint",)
    search_fields = ("deadline__complaint__tracking_code",)
    date_hierarchy = "created_at"


# --- Extensions -------------------------------------------------------------------------


class DecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[("approve", _("Approve")), ("refuse", _("Refuse"))],
        widget=forms.RadioSelect,
    )

    class Meta:
        model = ExtensionRequest
        fields = ("decision_note",)


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(admin.ModelAdmin):
    list_display = (
        "deadline",
        "requested_by",
        "requested_due_at",
        "state",
        "decided_by",
        "requested_at",
    )
    list_filter = ("state",)
    search_fields = ("deadline__complaint__tracking_code",)
    readonly_fields = (
        "deadline",
        "reason",
        "previous_due_at",
        "requested_due_at",
        "requested_by",
        "requested_at",
        "state",
        "decided_by",
        "decided_at",
    )
    form = DecisionForm

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(self.readonly_fields)
        if obj is not None and obj.state == ExtensionRequest.State.PENDING:
            return [*fields, "decision", "decision_note"]
        return [*fields, "decision_note"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.state != ExtensionRequest.State.PENDING:
            return (*self.readonly_fields, "decision_note")
        return self.readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # handlers ask in the console, for their own complaints

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ExtensionRequest, form: Any, change: bool
    ) -> None:
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        try:
            services.decide_extension(
                request_id=obj.pk,
                approve=decision == "approve",
                note=form.cleaned_data.get("decision_note", ""),
                actor=request.user,  # type: ignore[arg-type]
            )
        except DomainError as exc:
            messages.error(request, str(exc))

    def response_change(self, request: HttpRequest, obj: ExtensionRequest) -> Any:
        obj.refresh_from_db()
        if obj.state == ExtensionRequest.State.PENDING:
            return self.response_post_save_change(request, obj)
        return super().response_change(request, obj)
