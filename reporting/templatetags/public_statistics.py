"""``{% public_statistics_url as url %}``: the public statistics page, or "" when unpublished."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.simple_tag
def public_statistics_url() -> str:
    return reverse("statistics:public") if settings.PUBLIC_STATISTICS else ""
