"""``GET /api/v1/``: where things are, and who you are to the API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# The parts of the API, by URL name; each answer names their full addresses.
LINKS = (
    "schema",
    "docs",
    "me",
    "complaints",
    "submissions",
    "intake",
    "categories",
    "departments",
    "petitioners",
    "kpis",
    "webhooks",
    "tokens",
)


class Root(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="root",
        summary="Where the API's parts are",
        tags=["meta"],
        responses={
            200: inline_serializer(
                "Root",
                {name: serializers.CharField() for name in LINKS},
            )
        },
    )
    def get(self, request: Request) -> Response:
        def link(name: str) -> Any:
            return reverse(f"api:{name}", request=request)

        return Response({name: link(name) for name in LINKS})
