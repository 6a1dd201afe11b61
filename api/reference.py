"""Who is calling, and the reference data every caller may read.

* ``GET /me/`` — the caller as the API sees them: a member of staff (roles, reach, the
  token used) or a channel client (scopes, expiry, rate limit).
* ``GET /categories/``, ``GET /departments/`` — for every caller, channels included: a
  channel shows its users the categories. Names are in the caller's language
  (``Accept-Language``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AccessToken, User
from api.auth import channel_client, is_staff
from api.serializers import (
    Reference,
    reference,
)
from complaints import permissions
from complaints.models import Complaint
from intake.models import ChannelClient
from routing.models import Category, Department

logger = logging.getLogger(__name__)


# --- Who is calling ---------------------------------------------------------------------


class RoleOut(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()


class TokenUsed(serializers.Serializer[Any]):
    name = serializers.CharField()
    scope = serializers.ChoiceField(choices=AccessToken.Scope.choices)
    token_hint = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class StaffMe(serializers.Serializer[Any]):
    kind = serializers.CharField(help_text="`staff`")
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    department = Reference(allow_null=True)
    roles = RoleOut(many=True)
    permissions = serializers.ListField(
        child=serializers.CharField(),
        help_text="What you may do to complaints (within your reach): each action's "
        "permission without `_complaint` (`view`, `assign`, `reply`, …), and "
        "`view_personal_data`, `access_all_departments`, `manage_department`, … as named.",
    )
    token = TokenUsed(
        allow_null=True, help_text="The personal access token of this call; null in a session."
    )


class ChannelMe(serializers.Serializer[Any]):
    kind = serializers.CharField(help_text="`channel`")
    name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Complaint.Channel.choices)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ChannelClient.Scope.choices)
    )
    token_hint = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    rate_limit = serializers.IntegerField(help_text="Calls per minute; 0 means no limit.")


ME = PolymorphicProxySerializer(
    component_name="Me",
    serializers={"staff": StaffMe, "channel": ChannelMe},
    resource_type_field_name="kind",
)

# The permissions of complaints.Complaint (roles carry them; accounts.roles).
COMPLAINT_PERMISSIONS = (
    "view_complaint",
    *(codename for codename, _label in Complaint._meta.permissions),
)


def complaint_permissions(user: User) -> list[str]:
    held = [c for c in COMPLAINT_PERMISSIONS if user.has_perm(permissions.perm(c))]
    return sorted(c.removesuffix("_complaint") for c in held)


def staff_me(user: User, token: AccessToken | None) -> dict[str, Any]:
    return {
        "kind": "staff",
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
        "department": reference(user.department),
        "roles": [{"code": role.value, "name": str(role.label)} for role in user.roles],
        "permissions": complaint_permissions(user),
        "token": None
        if token is None
        else {
            "name": token.name,
            "scope": token.scope,
            "token_hint": token.token_hint,
            "expires_at": token.expires_at,
        },
    }


def channel_me(client: ChannelClient) -> dict[str, Any]:
    return {
        "kind": "channel",
        "name": client.name,
        "channel": client.channel,
        "scopes": list(client.scopes or []),
        "token_hint": client.token_hint,
        "expires_at": client.expires_at,
        "rate_limit": client.rate_limit or settings.API_RATE_CLIENT,
    }


class Me(APIView):
    @extend_schema(
        operation_id="me",
        summary="Who you are to the API",
        tags=["reference"],
        responses={200: ME},
    )
    def get(self, request: Request) -> Response:
        client = channel_client(request)
        if client is not None:
            return Response(ChannelMe(channel_me(client)).data)
        token = request.auth if isinstance(request.auth, AccessToken) else None
        return Response(StaffMe(staff_me(request.user, token)).data)  # type: ignore[arg-type]


# --- Categories and departments ---------------------------------------------------------


class ReferenceFilters(serializers.Serializer[Any]):
    include_inactive = serializers.BooleanField(
        required=False, default=False, help_text="Also those no longer in use (staff only)."
    )


def include_inactive(request: Request) -> bool:
    filters = ReferenceFilters(data=request.query_params)
    filters.is_valid(raise_exception=True)
    wanted = bool(filters.validated_data["include_inactive"])
    if wanted and not is_staff(request.user):
        raise exceptions.PermissionDenied(_("Only staff may list entries no longer in use."))
    return wanted


class CategoryOut(serializers.Serializer[Category]):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the caller's language.")
    description = serializers.CharField()
    # DRF's metaclass takes declared fields out of the class: no clash with Field.parent.
    parent = serializers.CharField(source="parent.code", allow_null=True)  # type: ignore[assignment]
    default_department = Reference(allow_null=True)
    active = serializers.BooleanField(source="is_active")


class DepartmentOut(serializers.Serializer[Department]):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the caller's language.")
    parent = serializers.CharField(source="parent.code", allow_null=True)  # type: ignore[assignment]
    active = serializers.BooleanField(source="is_active")


class CategoryList(generics.ListAPIView):
    """Every category in use (a short list: not paged), by code."""

    serializer_class = CategoryOut
    pagination_class = None

    def get_queryset(self) -> QuerySet[Category]:
        found = Category.objects.select_related("parent", "default_department")
        return found if include_inactive(self.request) else found.filter(is_active=True)

    @extend_schema(
        operation_id="categories_list",
        summary="List categories",
        tags=["reference"],
        parameters=[ReferenceFilters],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DepartmentList(generics.ListAPIView):
    """Every department in use (a short list: not paged), by code."""

    serializer_class = DepartmentOut
    pagination_class = None

    def get_queryset(self) -> QuerySet[Department]:
        found = Department.objects.select_related("parent")
        return found if include_inactive(self.request) else found.filter(is_active=True)

    @extend_schema(
        operation_id="departments_list",
        summary="List departments",
        tags=["reference"],
        parameters=[ReferenceFilters],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
