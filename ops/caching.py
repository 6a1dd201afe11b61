"""Pages are private unless a view says otherwise: ``Cache-Control: private, no-store``.

Nearly every dynamic page shows someone's personal data or a member of staff's view of
it: the console's complaint page and queues, revealed contact details, data requests and
their copies, the portal's tracking page, API answers, export downloads. A browser's
disk cache or a shared proxy must keep none of them, and a rule written per view is one
that a new view forgets. So it is written once, here: any response that does not set
``Cache-Control`` itself gets ``private, no-store``.

A view that may be cached (none so far) says so explicitly, e.g. with
``django.views.decorators.cache.cache_control(public=True, max_age=600)``; views that
already call ``never_cache`` keep its fuller header, which also contains ``no-store``.
Static files are served before this middleware (WhiteNoise) and keep their long caching.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

PRIVATE = "private, no-store"


class PrivateByDefaultMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = PRIVATE
        return response
