"""Console forms for extensions (延期申请): asking for more time, and deciding."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class ExtensionForm(forms.Form):
    until = forms.DateTimeField(
        label=_("New due time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    reason = forms.CharField(
        label=_("Why is more time needed?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("refuse", _("Refuse"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note to the handler"),
        required=False,
        max_length=2000,
        help_text=_("Required when refusing."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
