"""OpenAPI: how the schema describes authentication and the one error format."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal access token (`stp_…`, made in the console under “API tokens”) "
                "or a channel client's token (`stc_…`), as `Authorization: Token <token>` "
                "or `Authorization: Bearer <token>`. Never in the address."
            ),
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.StaffSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


FIELD_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "field": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["field", "code", "message"],
}
ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every error answer.",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        "allowed_actions": {"type": "array", "items": {"type": "string"}},
        "retry_after": {"type": "integer"},
    },
    "required": ["code", "message", "errors"],
}

# For views that declare an error answer of their own (409, 422): the one format.
ERROR_RESPONSE = OpenApiResponse(
    response={"$ref": "#/components/schemas/Error"},
    description="Refused; see `code` and `message`.",
)

ERRORS = {
    "400": "The request is not valid: see `errors`.",
    "401": "No valid credentials.",
    "403": "Not allowed to you or to this token.",
    "404": "Not found, or not within your reach.",
    "429": "Too many calls: wait `retry_after` seconds.",
}


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Every operation may answer these errors, all in the one format (``Error``)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    # Views that answer 409 name ``Error`` themselves; the rest get it from here.
    components.setdefault("Error", ERROR_SCHEMA)
    components.setdefault("FieldError", FIELD_ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, description in ERRORS.items():
                if code == "401" and not operation.get("security", [{}]):
                    continue
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result


def close_request_bodies(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Request bodies take only the fields they list (``additionalProperties: false``).

    ``api.serializers.check`` answers any other field with 400 ``unknown_field``, so that a
    misspelt field or one the caller may not set (``status``, ``assignee``) is never
    dropped in silence; the schema says the same. With ``COMPONENT_SPLIT_REQUEST`` every
    request body (and each object nested in one) is a component named ``…Request``.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
