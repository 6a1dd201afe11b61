"""The API's OpenAPI schema, generated from the code, and a check that answers match it.

``assert_matches_schema(response)`` finds the operation the response answers (method and
path against the schema's path templates), requires its status code to be documented for
that operation, and validates the JSON body against the documented schema (JSON Schema
draft 2020-12, as OpenAPI 3.1 says; ``$ref``\\s resolved within the whole document).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpResponse
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
DOCUMENT = "urn:sutong:openapi"
# Served, but not described by the schema itself (SERVE_INCLUDE_SCHEMA is off).
UNDESCRIBED = re.compile(r"^/api/v1/(schema|docs)/")


@dataclass(frozen=True)
class Operation:
    method: str  # lower case, as in the schema
    template: str  # /api/v1/complaints/{id}/
    id: str  # operationId
    spec: dict[str, Any]
    pattern: re.Pattern[str]

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.template}"

    @property
    def documented_statuses(self) -> list[str]:
        return sorted(self.spec.get("responses", {}))

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"{([^}]+)}", self.template)


def openapi() -> dict[str, Any]:
    """The schema, as ``/api/v1/schema/`` serves it (generated once per test session)."""
    return _generated()


@functools.cache
def _generated() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    # Through JSON, as served: lazy translations and tuples become plain strings and lists.
    loaded: dict[str, Any] = json.loads(json.dumps(schema, default=str))
    return loaded


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"({[^}]+})", template)
    regex = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{regex}$")


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the schema, literal paths before templated ones."""
    found = [
        Operation(
            method=method,
            template=template,
            id=spec["operationId"],
            spec=spec,
            pattern=_pattern(template),
        )
        for template, item in openapi()["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]
    return tuple(sorted(found, key=lambda o: (o.template.count("{"), o.template, o.method)))


def operation_by_id(operation_id: str) -> Operation:
    for operation in operations():
        if operation.id == operation_id:
            return operation
    raise LookupError(f"no operation {operation_id!r} in the schema")


def find_operation(method: str, path: str) -> Operation | None:
    method = method.lower()
    for operation in operations():
        if operation.method == method and operation.pattern.match(path):
            return operation
    return None


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    # RFC 3339 wants the offset; a naive time is ambiguous for a caller.
    return parsed.tzinfo is not None and "T" in value.upper()


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path))


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("date-time")(_date_time)
    checker.checks("uri")(_uri)
    return checker


@functools.cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(openapi(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT, resource)


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@functools.cache
def _validator(pointer: str) -> Draft202012Validator:
    """A validator for the schema at ``pointer`` in the document (its refs resolved there)."""
    return Draft202012Validator(
        {"$ref": f"{DOCUMENT}#/{pointer}"}, registry=_registry(), format_checker=_format_checker()
    )


def validate(instance: Any, pointer: str) -> list[str]:
    """Problems of ``instance`` against the schema at ``pointer`` (empty when it is valid)."""
    errors = list(_validator(pointer).iter_errors(instance))
    if not errors:
        return []
    best = best_match(errors)
    described = [
        f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in [best, *[e for e in errors if e is not best]][:5]
    ]
    return described


def component(name: str) -> str:
    """The pointer of ``components/schemas/<name>``, for ``validate``."""
    return _pointer("components", "schemas", name)


def _request_of(response: HttpResponse) -> tuple[str, str]:
    environ: dict[str, Any] = getattr(response, "request", {}) or {}
    return str(environ.get("REQUEST_METHOD", "GET")), str(environ.get("PATH_INFO", ""))


def _media_type(response: HttpResponse) -> str:
    return response.get("Content-Type", "").split(";")[0].strip().lower()


def raw(response: HttpResponse) -> bytes:
    """The body as bytes; a streamed one (a file download) is not read."""
    return b"<streamed>" if getattr(response, "streaming", False) else response.content


def _body(response: HttpResponse) -> Any:
    try:
        return json.loads(raw(response) or b"null")
    except ValueError as error:
        raise AssertionError(f"the body is not JSON: {raw(response)[:200]!r}") from error


def problems(response: HttpResponse) -> list[str]:
    """Why ``response`` does not match the schema (empty when it does)."""
    method, path = _request_of(response)
    label = f"{method} {path}"
    status = str(response.status_code)
    if UNDESCRIBED.match(path):
        return []
    head = method.upper() == "HEAD"  # a GET without its body (DRF answers HEAD for GET)
    operation = find_operation("GET" if head else method, path)
    if operation is None:
        if status == "404":
            # Unknown addresses answer 404 in the one error format.
            found = [] if head else validate(_body(response), component("Error"))
            return [f"{label}: {p}" for p in found]
        return [f"{label} is not an operation of the schema (answered {status})"]
    responses = operation.spec.get("responses", {})
    key = next((k for k in (status, f"{status[0]}XX", "default") if k in responses), None)
    if key is None:
        return [
            f"status {status} not documented for {operation} "
            f"(documented: {', '.join(operation.documented_statuses)})"
        ]
    content: dict[str, Any] = responses[key].get("content") or {}
    if not content:
        if raw(response) and not head:
            return [f"{operation} answered {status} with a body; none is documented"]
        return []
    media_type = _media_type(response)
    if media_type not in content:
        return [
            f"{operation} answered {status} as {media_type or 'no content type'}; "
            f"documented: {', '.join(content)}"
        ]
    schema = content[media_type].get("schema")
    if head or schema is None or not media_type.endswith("json"):
        return []
    template = operation.template
    pointer = _pointer("paths", template, operation.method, "responses", key, "content")
    pointer = f"{pointer}/{_pointer(media_type)}/schema"
    found = validate(_body(response), pointer)
    return [f"{operation} → {status}: {p}" for p in found]


def assert_matches_schema(response: HttpResponse) -> None:
    """Fail unless ``response`` is an answer the schema documents, with a valid body."""
    __tracebackhide__ = True
    found = problems(response)
    if found:
        raise AssertionError(
            "The answer does not match the OpenAPI schema:\n  "
            + "\n  ".join(found)
            + f"\nbody: {raw(response)[:1000]!r}"
        )
