"""htmx in the console: when a request wants a fragment, and how to answer one.

Every console page is a whole document first, and every link and form works without
JavaScript. With it, htmx (vendored, configured in ``console/base.html``) asks for the same
URL with an ``HX-Request`` header and swaps one part of the page; a view then renders only
that part — a partial template that the whole page includes, so both are written once.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.cache import patch_vary_headers


def is_htmx(request: HttpRequest) -> bool:
    """Whether ``request`` came from htmx and wants a fragment, not a whole page.

    A history restore also carries ``HX-Request`` but needs the whole page: the console
    configures htmx to reload instead, and this keeps the answer right if that changes.
    """
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page(
    request: HttpRequest,
    template: str,
    fragment: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    """``template`` as a page, or, for htmx, the ``fragment`` of it that htmx swaps."""
    partial = is_htmx(request)
    response = render(
        request, fragment if partial else template, {**context, "fragment": partial}, status=status
    )
    # The same URL answers two ways: a cache (the browser's too) must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def redirect_page(request: HttpRequest, to: str, *args: Any, **kwargs: Any) -> HttpResponse:
    """A redirect that htmx turns into a page load (``HX-Redirect``), not into a swap.

    htmx's request would follow a plain 302 itself and swap the whole page it lands on into
    the fragment; with ``HX-Redirect`` the browser goes there and shows its messages.
    """
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = resolve_url(to, *args, **kwargs)
        return response
    return redirect(to, *args, **kwargs)
