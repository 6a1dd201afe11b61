"""Deployment checks of Sutong's own security headers (``manage.py check --deploy``).

Django's checks cover HSTS, nosniff, secure cookies and X-Frame-Options; the CSP and the
"private, no-store" default come from Sutong's middleware (ops.csp, ops.caching), and a
settings change that dropped one would silently remove a protection.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning

REQUIRED_MIDDLEWARE = {
    "ops.csp.ContentSecurityPolicyMiddleware": "the Content-Security-Policy header",
    "ops.caching.PrivateByDefaultMiddleware": "Cache-Control: private, no-store on pages",
}


@register(Tags.security, deploy=True)
def security_headers(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [
        CheckWarning(
            f"{path} is not in MIDDLEWARE: responses go out without {what}.",
            hint=f"Add {path!r} to MIDDLEWARE (see config/settings.py).",
            id="ops.W001",
        )
        for path, what in REQUIRED_MIDDLEWARE.items()
        if path not in settings.MIDDLEWARE
    ]
