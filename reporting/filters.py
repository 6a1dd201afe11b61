"""The period and scope form of the reports page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from complaints.models import Complaint, Petitioner
from reporting.kpis import Period, Scope
from routing.models import Category, Department

PERIOD_CHOICES = [
    ("this_week", _("This week")),
    ("last_week", _("Last week")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
    ("this_quarter", _("This quarter")),
    ("last_quarter", _("Last quarter")),
    ("this_year", _("This year")),
    ("last_year", _("Last year")),
    ("custom", _("Custom dates")),
]
DEFAULT_PERIOD = "this_month"
# Long enough for year-on-year views; short enough that a page stays fast.
MAX_DAYS = 3 * 366

ALL = pgettext_lazy("filter", "All")


def _choices(choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [("", ALL), *choices]


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        names = [obj.name]
        parent = obj.parent
        while parent is not None:
            names.append(parent.name)
            parent = parent.parent
        return " › ".join(reversed(names))


class ReportFilterForm(forms.Form):
    """Period (a preset or custom dates, both inclusive) and scope.

    ``locked_department``: a department head's own department; the department field then
    shows it and cannot be changed.
    """

    period = forms.ChoiceField(
        label=_("Period"), choices=PERIOD_CHOICES, initial=DEFAULT_PERIOD, required=False
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=ALL,
    )
    category = CategoryChoiceField(
        label=_("Category"),
        queryset=Category.objects.select_related("parent__parent"),
        required=False,
        empty_label=ALL,
        help_text=_("Includes its sub-categories."),
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=_choices(Complaint.Channel.choices), required=False
    )
    kind = forms.ChoiceField(
        label=_("Kind"), choices=_choices(Complaint.Kind.choices), required=False
    )
    petitioner_type = forms.ChoiceField(
        label=_("Petitioner type"), choices=_choices(Petitioner.Type.choices), required=False
    )

    def __init__(self, *args: Any, locked_department: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locked_department = locked_department
        field = self.fields["department"]
        assert isinstance(field, forms.ModelChoiceField)
        if locked_department is None:
            field.queryset = Department.objects.all()
        else:
            field.queryset = Department.objects.filter(pk=locked_department)
            field.initial = locked_department
            field.disabled = True
            field.empty_label = None
            field.help_text = _("Department heads see their own department.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("period") or DEFAULT_PERIOD) == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None or end is None:
                raise forms.ValidationError(_("Give both dates of a custom period."))
            if end < start:
                raise forms.ValidationError(_("The period ends before it starts."))
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(
                    _("A period can be at most %(days)s days long.") % {"days": MAX_DAYS}
                )
        return data

    def chosen_period(self, *, today: date) -> Period:
        data = self.cleaned_data
        name = data.get("period") or DEFAULT_PERIOD
        if name == "custom":
            return Period(data["start"], data["end"] + timedelta(days=1))
        return Period.preset(name, today=today)

    def scope(self) -> Scope:
        data = self.cleaned_data
        department = data.get("department")
        category = data.get("category")
        return Scope(
            department_id=self.locked_department or (department.pk if department else None),
            category_id=category.pk if category else None,
            channel=data.get("channel") or None,
            kind=data.get("kind") or None,
            petitioner_type=data.get("petitioner_type") or None,
        )
