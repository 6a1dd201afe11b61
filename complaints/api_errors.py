"""Domain errors → HTTP, once for the whole REST API."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from complaints.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "detail": str(exc)}
        if errors := getattr(exc, "errors", None):
            body["errors"] = errors
        return Response(body, status=exc.status)
    return drf_exception_handler(exc, context)
