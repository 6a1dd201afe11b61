"""Template helpers of the reports pages: the sub-navigation and number formats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from reporting.formatting import format_count, format_duration, format_rate, format_rating

register = template.Library()

# The reports pages, in the order of the sub-navigation. A page whose URL name does not
# resolve (not installed yet) is left out.
PAGES = [
    ("reporting:overview", _("Key figures")),
    ("reporting:hotspots", _("Hotspots")),
    ("reporting:exports", _("Exports")),
    ("reporting:scheduled", _("Scheduled reports")),
    ("reporting:audits", _("Sampling audits")),
]


@register.inclusion_tag("reporting/_nav.html", takes_context=True)
def reports_nav(context: dict[str, Any]) -> dict[str, Any]:
    """``{% reports_nav %}``: links to the reports pages, the current one marked."""
    request = context.get("request")
    path = request.path if request is not None else ""
    links = []
    for name, label in PAGES:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        current = path == url or (name != "reporting:overview" and path.startswith(url))
        links.append({"url": url, "label": label, "current": current})
    return {"links": links}


@register.filter
def rate(value: float | None) -> str:
    return format_rate(value)


@register.filter
def duration(value: timedelta | None) -> str:
    return format_duration(value)


@register.filter
def rating(value: float | None) -> str:
    return format_rating(value)


@register.filter
def count(value: int | None) -> str:
    return format_count(value)
