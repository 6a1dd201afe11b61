"""Forms of the citizen portal: submitting, tracking, supplementing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from complaints.errors import GuardFailed
from complaints.files import Upload
from complaints.forms import MultipleFileField
from complaints.models import Complaint, ContactPreference, Petitioner
from intake.submission import Submission


class PortalForm(forms.Form):
    """Labels stand alone: many are questions, and "？：" reads badly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SubmitForm(PortalForm):
    kind = forms.ChoiceField(
        label=_("What would you like to do?"),
        choices=Complaint.Kind.choices,
        initial=Complaint.Kind.COMPLAINT,
        widget=forms.RadioSelect,
    )
    petitioner_type = forms.ChoiceField(
        label=_("Who is writing?"),
        choices=Petitioner.Type.choices,
        initial=Petitioner.Type.INDIVIDUAL,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(label=_("Your name"), max_length=100, required=False)
    organisation = forms.CharField(
        label=_("Company or organisation"), max_length=200, required=False
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    email = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    id_number = forms.CharField(label=_("ID number (optional)"), max_length=32, required=False)
    address = forms.CharField(label=_("Your address"), max_length=300, required=False)
    contact_preference = forms.ChoiceField(
        label=_("How should we contact you?"),
        choices=[("", _("No preference")), *ContactPreference.choices],
        required=False,
    )
    anonymous = forms.BooleanField(
        label=_("Stay anonymous"),
        required=False,
        help_text=_(
            "Handlers will not see who you are. You follow the matter with your tracking "
            "code, and we cannot call or write to you."
        ),
    )
    title = forms.CharField(label=_("Subject"), max_length=200)
    content = forms.CharField(
        label=_("What happened?"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Where and when, who was involved, and what you would like us to do."),
    )
    location = forms.CharField(label=_("Where did it happen?"), max_length=300, required=False)
    occurred_at = forms.DateTimeField(
        label=_("When did it happen?"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    attachments = MultipleFileField(label=_("Photos and documents"))
    privacy_consent = forms.BooleanField(
        label=_(
            "I have read the privacy notice and agree that my details are used to handle "
            "this matter."
        ),
        error_messages={"required": _("Please accept the privacy notice to submit.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per request, so the limits and the language are the current ones.
        self.fields["attachments"].help_text = _(
            "Images, PDF, office documents, text or audio; up to %(count)d files of "
            "%(size)s MB each."
        ) % {
            "count": settings.ATTACHMENT_MAX_COUNT,
            "size": f"{settings.ATTACHMENT_MAX_BYTES / 1024 / 1024:g}",
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("anonymous") and not (cleaned.get("phone") or cleaned.get("email")):
            self.add_error(
                "phone",
                _(
                    "Give a phone number or an e-mail address so that we can reply, or choose "
                    "to stay anonymous."
                ),
            )
        if cleaned.get("contact_preference") == ContactPreference.EMAIL and not cleaned.get(
            "email"
        ):
            self.add_error("email", _("Give the e-mail address we should write to."))
        if cleaned.get("contact_preference") in (
            ContactPreference.PHONE,
            ContactPreference.SMS,
        ) and not cleaned.get("phone"):
            self.add_error("phone", _("Give the phone number we should use."))
        return cleaned

    def submission(self, *, channel: str, **extra: Any) -> Submission:
        """The validated form as the one shape intake takes; ``extra`` adds fields."""
        data = self.cleaned_data
        fields = {name: data[name] for name in SUBMISSION_FIELDS if name in data}
        uploads = tuple(Upload.from_file(file) for file in data.get("attachments", []))
        return Submission(channel=channel, uploads=uploads, **fields, **extra)

    def add_refusal(self, error: GuardFailed) -> None:
        """Show what intake refused next to the fields it concerns."""
        problems = getattr(error, "errors", None) or {"attachments": [str(error)]}
        for field, messages in problems.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


# Form fields that are Submission fields of the same name.
SUBMISSION_FIELDS = (
    "kind",
    "petitioner_type",
    "name",
    "organisation",
    "phone",
    "email",
    "id_number",
    "address",
    "contact_preference",
    "anonymous",
    "title",
    "content",
    "location",
    "occurred_at",
    "privacy_consent",
    "received_at",
    "external_ref",
)


class TrackForm(PortalForm):
    code = forms.CharField(
        label=_("Tracking code"),
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "TS-2026-XXXXXXXX", "autocomplete": "off"}),
    )
    secret = forms.CharField(
        label=_("Secret"),
        max_length=40,
        widget=forms.PasswordInput(attrs={"placeholder": "XXXX-XXXX-XXXX", "autocomplete": "off"}),
    )


class SupplementForm(PortalForm):
    text = forms.CharField(
        label=_("Your answer"),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    attachments = MultipleFileField(label=_("Add files"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("text") or "").strip() and not cleaned.get("attachments"):
            raise forms.ValidationError(_("Write something or attach a file."))
        return cleaned


class RegisterForm(SubmitForm):
    """What an intake clerk records for a call, a visit or a letter."""

    STAFF_CHANNELS = [
        (Complaint.Channel.HOTLINE, Complaint.Channel.HOTLINE.label),
        (Complaint.Channel.WALK_IN, Complaint.Channel.WALK_IN.label),
        (Complaint.Channel.LETTER, Complaint.Channel.LETTER.label),
    ]

    channel = forms.ChoiceField(
        label=_("Received by"),
        choices=STAFF_CHANNELS,
        initial=Complaint.Channel.HOTLINE,
        widget=forms.RadioSelect,
    )
    received_at = forms.DateTimeField(
        label=_("Received on"),
        required=False,
        help_text=_("For letters: the date on the receipt stamp. Empty means now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    external_ref = forms.CharField(
        label=_("Letter number or call id"), max_length=100, required=False
    )
    privacy_consent = forms.BooleanField(
        label=_("The petitioner was told how their details are used."), required=False
    )
    content = forms.CharField(
        label=_("What the petitioner reports"),
        max_length=20000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Leave empty only if it is still to be supplied; the matter then waits for it."
        ),
    )

    field_order = ["channel", "received_at", "external_ref"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The clerk writes about the petitioner, not about themself.
        self.fields["attachments"].label = _("Scanned pages, photos, recordings")
        self.fields["name"].label = _("Name")
        self.fields["address"].label = _("Address")
        self.fields["kind"].label = _("Kind of matter")
        self.fields["contact_preference"].label = _("How to contact the petitioner")

    def clean(self) -> dict[str, Any]:
        # A clerk may register a caller who gives no contact: the service then asks for it.
        cleaned = forms.Form.clean(self) or {}
        received = cleaned.get("received_at")
        if received and received > timezone.now():
            self.add_error("received_at", _("The date cannot be in the future."))
        return cleaned
