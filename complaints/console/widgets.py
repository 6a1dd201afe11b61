"""Form widgets of the console that are drawn often enough to be worth drawing fast."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


class QuickSelect(forms.Select):
    """Django's ``<select>``, written out directly rather than an option template each.

    The lists of staff (every handler, a few hundred in a city) are on the queue and the
    complaint page of everyone who may move complaints: through the templates, 0.15 ms an
    option, a sixth of the page's time. Same markup, same context as ``forms.Select``.
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            rows = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((o["value"], mark_safe(flatatt(o["attrs"])), o["label"]) for o in options),  # noqa: S308 (flatatt escapes)
            )
            groups.append(
                format_html('<optgroup label="{}">{}</optgroup>', group_name, rows)
                if group_name
                else rows
            )
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            mark_safe(flatatt(widget["attrs"])),  # noqa: S308 (flatatt escapes)
            mark_safe("".join(groups)),  # noqa: S308 (each part built by format_html)
        )


def quicken(field: forms.Field) -> None:
    """Draw ``field``'s select with :class:`QuickSelect` (a form's own copy of the field)."""
    old = field.widget
    quick = QuickSelect(attrs=old.attrs)
    quick.choices = old.choices
    quick.is_required = old.is_required
    field.widget = quick
