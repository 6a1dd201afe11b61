"""Content-Security-Policy: the browser runs only Sutong's own scripts and styles.

User text is escaped everywhere (templates autoescape), and this is the second line: if
some text ever slipped through unescaped, an injected ``<script>``, ``onerror=`` handler
or ``javascript:`` link still would not run, because the policy allows scripts and
styles only from Sutong's own origin (``'self'``: static files) or carrying this
response's nonce. Django 5.2 has no CSP of its own (6.0 will), hence this middleware.

Each request gets a fresh random nonce, ``request.csp_nonce``, which templates read as
``{{ csp_nonce }}`` (the ``nonce`` context processor) for the rare inline ``<script>`` or
``<style>`` that cannot be a static file (the API docs' start-up code). Sutong's own
templates have none: the console's behaviour lives in ``static/js``.

A view whose page needs a wider policy (the Redoc API reference injects styles at run
time) says so with ``@csp_override(...)``; it replaces the named directives for that
response only. A response that already carries a ``Content-Security-Policy`` header
keeps it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase

# Replaced by the request's nonce when the header is written.
NONCE = "'nonce'"

POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'", NONCE),
    "style-src": ("'self'", NONCE),
    # Charts and icons are inline SVG or data: URIs (Swagger UI's icons).
    "img-src": ("'self'", "data:"),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    # Never inside another site's frame (clickjacking); X-Frame-Options: DENY says the
    # same to older browsers.
    "frame-ancestors": ("'none'",),
}

HEADER = "Content-Security-Policy"

View = Callable[..., HttpResponseBase]


def header_value(nonce: str, overrides: dict[str, tuple[str, ...]] | None = None) -> str:
    """The policy as a header value, with ``nonce`` filled in and ``overrides`` applied."""
    policy = {**POLICY, **(overrides or {})}
    nonce_source = f"'nonce-{nonce}'"
    return "; ".join(
        " ".join([directive, *(nonce_source if s == NONCE else s for s in sources)])
        for directive, sources in policy.items()
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # 18 random bytes, base64: unguessable, and fresh on every response, so a nonce
        # read from one page is worth nothing on the next.
        nonce = secrets.token_urlsafe(18)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
        response = self.get_response(request)
        if HEADER not in response:
            overrides = getattr(response, "csp_overrides", None)
            response[HEADER] = header_value(nonce, overrides)
        return response


def nonce(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``csp_nonce``, for ``<script nonce="{{ csp_nonce }}">``."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


def csp_override(**directives: tuple[str, ...]) -> Callable[[View], View]:
    """Replace directives of the policy for one view: ``style_src=("'self'", …)``.

    Use sparingly and say why beside it: every source added is one more way in.
    """
    overrides = {name.replace("_", "-"): sources for name, sources in directives.items()}

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response = view(request, *args, **kwargs)
            response.csp_overrides = overrides  # type: ignore[attr-defined]
            return response

        return wrapped

    return decorate
