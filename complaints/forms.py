"""Forms for the arguments of transitions; field names match the service's keywords.

Used by the back-office transition pages now and by the staff console later.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from complaints import tracking
from complaints.models import Complaint
from routing.models import Category, Department


class ClassifyForm(forms.Form):
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.filter(is_active=True)
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Complaint.Priority.choices, initial=Complaint.Priority.NORMAL
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("(unchanged)")), *Complaint.Kind.choices], required=False
    )


class RequestInfoForm(forms.Form):
    question = forms.CharField(
        label=_("Which details are missing?"), widget=forms.Textarea(attrs={"rows": 4})
    )


class SupplyInfoForm(forms.Form):
    details = forms.CharField(
        label=_("Details supplied by the petitioner"), widget=forms.Textarea(attrs={"rows": 4})
    )


class StaffChoiceField(forms.ModelChoiceField):
    """Staff shown as "Zhang San (Urban Management Bureau)", so the right one is picked."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.get_full_name() or obj.get_username()} ({obj.department})"


class AssignForm(forms.Form):
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.filter(is_active=True)
    )
    assignee = StaffChoiceField(
        label=_("Handler"),
        queryset=get_user_model()
        .objects.filter(is_active=True, department__isnull=False)
        .select_related("department")
        .order_by("department__code", "last_name", "first_name"),
        required=False,
        help_text=_("Leave empty to let the department pick a handler."),
    )


class TransferForm(AssignForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class MergeForm(forms.Form):
    into = forms.CharField(label=_("Tracking code of the complaint it duplicates"), max_length=30)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        code = tracking.normalize_tracking_code(cleaned.pop("into", "") or "")
        target = Complaint.objects.filter(tracking_code=code).first() if code else None
        if target is None:
            raise forms.ValidationError(_("No complaint has this tracking code."))
        cleaned["into_id"] = target.pk
        return cleaned
