"""Cursor pagination: stable pages over lists that change while they are read."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """``?cursor=`` from the previous page's ``next``; ``page_size`` up to 200.

    The order is the view's ``ordering`` (newest first by default), always ending in the
    primary key so that rows with equal values never repeat or vanish between pages.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-pk"

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> tuple[str, ...]:
        # DRF's own cursor reads only the paginator's ordering (or an ordering filter's).
        wanted = getattr(view, "ordering", None)
        if isinstance(wanted, str):
            ordering: tuple[str, ...] = (wanted,)
        elif wanted:
            ordering = tuple(wanted)
        else:
            ordering = super().get_ordering(request, queryset, view)
        if not any(field.lstrip("-") in ("pk", "id") for field in ordering):
            tie = "-pk" if ordering and ordering[0].startswith("-") else "pk"
            ordering = (*ordering, tie)
        return tuple(ordering)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # DRF describes a missing link with OpenAPI 3.0's ``nullable``; the schema is 3.1.
        def link(description: str) -> dict[str, Any]:
            return {"type": ["string", "null"], "format": "uri", "description": description}

        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": link("The next page; null on the last one."),
                "previous": link("The previous page; null on the first one."),
                "results": schema,
            },
        }
