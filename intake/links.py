"""The private link that opens one complaint on the portal: its code and its secret."""

from django.http import HttpRequest
from django.urls import reverse


def private_link(request: HttpRequest, code: str, secret: str) -> str:
    """Absolute, because it travels: shown once, sent by a channel, written down."""
    return request.build_absolute_uri(reverse("intake:track_private", args=[code, secret]))
