"""One error format for the whole API, whatever went wrong and wherever.

    {"code": "invalid", "message": "…", "errors": [{"field": "petitioner.phone",
     "code": "invalid", "message": "…"}]}

``code`` is stable and meant for programs; ``message`` is for people, in the language the
caller asked for (``Accept-Language``); ``errors`` names each field that is wrong, with
dotted paths into nested input (``attachments.0.name``). A refused state change (409)
adds ``allowed_actions``, the actions possible now; a throttled call (429) adds
``retry_after`` in seconds. Domain errors from the services are mapped here once.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from complaints.errors import DomainError, InvalidTransition


def body(code: str, message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": errors or []}


def field_errors(detail: Any, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of {field, code, message}."""
    found: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            found += field_errors(value, f"{path}.{name}" if path and name else path or name)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                found += field_errors(value, f"{path}.{index}" if path else str(index))
            else:
                found += field_errors(value, path)
    else:
        code = getattr(detail, "code", None) or "invalid"
        found.append({"field": path, "code": str(code), "message": str(detail)})
    return found


def _from_mapping(errors: dict[str, list[str]]) -> list[dict[str, str]]:
    return [
        {"field": "" if name == "__all__" else name, "code": "invalid", "message": str(text)}
        for name, messages in errors.items()
        for text in messages
    ]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        data = body(exc.code, str(exc), _from_mapping(getattr(exc, "errors", None) or {}))
        if isinstance(exc, InvalidTransition):
            data["allowed_actions"] = context.get("allowed_actions", exc.actions)
        return Response(data, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found, or not within your reach."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a server error: Django's handler logs it and answers 500

    if isinstance(exc, exceptions.ValidationError):
        data = body(
            "invalid",
            _("The request has errors; each is listed with its field."),
            field_errors(exc.detail),
        )
    else:
        detail = exc.detail
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else exc.default_code
        data = body(
            str(code or exc.default_code),
            str(detail if not isinstance(detail, dict | list) else exc.default_detail),
        )
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        data["retry_after"] = int(wait + 0.999)
        headers["Retry-After"] = str(data["retry_after"])
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    return Response(data, status=exc.status_code, headers=headers)


@csrf_exempt  # a JSON 404 for every method, not Django's HTML CSRF refusal
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any address under /api/v1/ that names nothing: a 404 in the API's own format."""
    return JsonResponse(
        body("not_found", _("There is no such endpoint. The list is at /api/v1/.")),
        status=status.HTTP_404_NOT_FOUND,
        json_dumps_params={"ensure_ascii": False},
    )
