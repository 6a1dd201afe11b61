"""Forms for the arguments of transitions; field names match the service's keywords.

Used by the back-office transition pages now and by the staff console later.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from complaints import tracking
from complaints.models import Complaint, Delivery
from routing.models import Category, Department


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by ``complaints.files`` when submitted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > settings.ATTACHMENT_MAX_COUNT:
            raise forms.ValidationError(
                _("Attach at most %(count)d files."),
                params={"count": settings.ATTACHMENT_MAX_COUNT},
            )
        for file in files:
            if file.size and file.size > settings.ATTACHMENT_MAX_BYTES:
                raise forms.ValidationError(
                    _("“%(name)s” is larger than the limit of %(limit)s MB."),
                    params={
                        "name": file.name,
                        "limit": f"{settings.ATTACHMENT_MAX_BYTES / 1024 / 1024:g}",
                    },
                )
        return [super(MultipleFileField, self).clean(file, initial) for file in files]


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


RATING_CHOICES = [
    ("5", _("5 — very satisfied")),
    ("4", _("4 — satisfied")),
    ("3", _("3 — neither")),
    ("2", _("2 — dissatisfied")),
    ("1", _("1 — very dissatisfied")),
]


class SurveyForm(forms.Form):
    """The satisfaction survey: on the portal, and for answers taken by phone."""

    resolved = forms.TypedChoiceField(
        label=_("Was your matter resolved?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": _("Say whether the matter was resolved.")},
    )
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you with how it was handled?"),
        choices=RATING_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose a satisfaction rating from 1 to 5.")},
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class WithdrawForm(forms.Form):
    """The petitioner withdraws their complaint from the tracking page."""

    reason = forms.CharField(
        label=_("Why do you withdraw it? (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(
        label=_("Yes, withdraw this matter. It will not be handled any further."),
        required=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class DeliveryForm(forms.Form):
    """Staff record how a letter or an oral reply reached the petitioner."""

    note = forms.CharField(
        label=_("How and when was it delivered?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: posted by registered mail no. …; phoned at 15:20 and read out."),
    )


class SendReplyForm(forms.Form):
    """How the reply goes out; the page narrows the choices to those possible."""

    delivery = forms.ChoiceField(
        label=_("Send by"),
        choices=Delivery.choices,
        required=False,
        widget=forms.RadioSelect,
        help_text=_("The way the complaint came in is chosen; change it if the petitioner asked."),
    )
