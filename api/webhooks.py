"""Webhook subscriptions over REST: ``/api/v1/webhooks/`` and its deliveries.

Staff with the permission ``notifications.manage_webhooks`` manage every subscription of
the organisation, and may narrow one to a department or a channel client. A channel
client with the scope ``webhooks`` manages its own: they hear only of the complaints it
submitted. Anyone else is refused (403); someone else's subscription does not exist for
the caller (404).

The signing secret is answered once, when a subscription is made or its secret rotated;
later only its first characters (``secret_hint``). How deliveries are signed and sent is
in ``notifications.webhooks``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api.serializers import check, validated
from notifications import webhooks
from notifications.models import Notification, WebhookSubscription
from notifications.webhook_targets import validate_webhook_url
from routing.models import Department

SCOPE = webhooks.SCOPE
PERMISSION = "notifications.manage_webhooks"
TAGS = ["webhooks"]


def _client(request: Request) -> Any:
    """The channel client calling, or None (a member of staff)."""
    from intake.models import ChannelClient

    return request.user if isinstance(request.user, ChannelClient) else None


class ManagesWebhooks(BasePermission):
    message = _(
        "Managing webhooks needs the permission to manage them (staff) or the scope "
        "“webhooks” (channel clients)."
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        client = _client(request)
        if client is not None:
            return bool(client.has_scope(SCOPE))
        return isinstance(request.user, User) and request.user.has_perm(PERMISSION)


class StillDelivering(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "still_delivering"
    default_detail = _("This delivery is still waiting to be sent; redeliver it once it is done.")


# --- Serializers ------------------------------------------------------------------------


class WebhookOut(serializers.ModelSerializer[WebhookSubscription]):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookSubscription.EventType.choices)
    )
    client: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The channel client whose complaints are sent, or null.",
    )
    department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="The code of the department whose complaints are sent, or null.",
    )
    secret_hint = serializers.CharField(
        read_only=True, help_text="The first characters of the signing secret."
    )

    class Meta:
        model = WebhookSubscription
        fields: tuple[str, ...] = (
            "id",
            "name",
            "url",
            "events",
            "client",
            "department",
            "is_active",
            "secret_hint",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class WebhookWithSecretOut(WebhookOut):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret, shown only in this answer: keep it now.",
    )

    class Meta(WebhookOut.Meta):
        fields = (*WebhookOut.Meta.fields, "secret")
        read_only_fields = fields


class ClientWebhookIn(serializers.ModelSerializer[WebhookSubscription]):
    """What a channel client sets: its subscriptions always hear of its own complaints."""

    url = serializers.CharField(max_length=300, validators=[validate_webhook_url])
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookSubscription.EventType.choices),
        allow_empty=False,
        help_text="Any of complaint.created, complaint.status_changed, complaint.replied, "
        "complaint.closed.",
    )

    class Meta:
        model = WebhookSubscription
        fields: tuple[str, ...] = ("name", "url", "events", "is_active")

    def validate_events(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))  # each once, in the order given


class StaffWebhookIn(ClientWebhookIn):
    """What staff set: also the client or the department the subscription is narrowed to."""

    # ``client`` comes from the model: a channel client's id, or null.
    department: serializers.SlugRelatedField[Department] = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Department.objects.all(),
        required=False,
        allow_null=True,
        help_text="A department's code: only its complaints are sent.",
    )

    class Meta(ClientWebhookIn.Meta):
        fields = (*ClientWebhookIn.Meta.fields, "client", "department")


class WebhookDeliveryOut(serializers.ModelSerializer[Notification]):
    event = serializers.CharField(source="kind", help_text="The event type that was sent.")
    # A string, not an enum, in the schema: another choice set named "status" (the
    # complaint's) would otherwise lose its plain name there.
    status = serializers.CharField(
        help_text="pending (waiting for its next attempt), sending, sent or failed."
    )

    class Meta:
        model = Notification
        fields = (
            "id",
            "event",
            "status",
            "attempts",
            "response_status",
            "last_error",
            "created_at",
            "sent_at",
            "next_attempt_at",
        )
        read_only_fields = fields


# --- Views ------------------------------------------------------------------------------


def subscriptions(request: Request) -> QuerySet[WebhookSubscription]:
    """The caller's subscriptions: a client's own, or all of them for staff."""
    found = WebhookSubscription.objects.select_related("department")
    client = _client(request)
    return found.filter(client=client) if client is not None else found


def subscription(request: Request, pk: int) -> WebhookSubscription:
    """One of the caller's subscriptions; 404 for anyone else's."""
    return get_object_or_404(subscriptions(request), pk=pk)


def input_class(request: Request) -> type[ClientWebhookIn]:
    return ClientWebhookIn if _client(request) is not None else StaffWebhookIn


@extend_schema_view(
    get=extend_schema(
        operation_id="webhooks_list",
        summary="List webhook subscriptions",
        tags=TAGS,
        responses={200: WebhookOut(many=True)},
    ),
    post=extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe to complaint events (the answer holds the secret, once)",
        tags=TAGS,
        request=StaffWebhookIn,
        responses={201: WebhookWithSecretOut},
    ),
)
class WebhookList(generics.ListCreateAPIView):
    permission_classes = [*APIView.permission_classes, ManagesWebhooks]
    serializer_class = WebhookOut
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return subscriptions(self.request).order_by("-created_at", "-pk")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        subscription = WebhookSubscription(**validated(input_class(request), request))
        client = _client(request)
        if client is not None:
            subscription.client = client
        else:
            subscription.created_by = request.user  # type: ignore[assignment]
        subscription.issue_secret()
        subscription.save()
        return Response(WebhookWithSecretOut(subscription).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        operation_id="webhooks_read",
        summary="Read a webhook subscription",
        tags=TAGS,
        responses={200: WebhookOut},
    ),
    patch=extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook subscription (deactivating it fails waiting deliveries)",
        tags=TAGS,
        request=StaffWebhookIn(partial=True),
        responses={200: WebhookOut},
    ),
    delete=extend_schema(
        operation_id="webhooks_delete",
        summary="Delete a webhook subscription and its delivery log",
        tags=TAGS,
        responses={204: None},
    ),
)
class WebhookDetail(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [*APIView.permission_classes, ManagesWebhooks]
    serializer_class = WebhookOut
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return subscriptions(self.request)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        found = self.get_object()
        was_active = found.is_active
        incoming = input_class(request)(found, data=request.data, partial=True)
        check(incoming)
        with transaction.atomic():
            incoming.save()
            if was_active and not found.is_active:
                webhooks.deactivate(found)
        return Response(WebhookOut(found).data)


class WebhookPing(APIView):
    permission_classes = [*APIView.permission_classes, ManagesWebhooks]

    @extend_schema(
        operation_id="webhooks_ping",
        summary="Send a test event (webhook.ping) to the subscription",
        tags=TAGS,
        request=None,
        responses={202: WebhookDeliveryOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = webhooks.ping(subscription(request, pk))
        return Response(WebhookDeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookRotateSecret(APIView):
    permission_classes = [*APIView.permission_classes, ManagesWebhooks]

    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Replace the signing secret (the answer holds the new one, once)",
        tags=TAGS,
        request=None,
        responses={200: WebhookWithSecretOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        found = subscription(request, pk)
        webhooks.rotate_secret(found)
        return Response(WebhookWithSecretOut(found).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="webhooks_deliveries",
        summary="A subscription's deliveries, newest first",
        tags=TAGS,
        responses={200: WebhookDeliveryOut(many=True)},
    )
)
class WebhookDeliveries(generics.ListAPIView):
    permission_classes = [*APIView.permission_classes, ManagesWebhooks]
    serializer_class = WebhookDeliveryOut
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[Notification]:
        return subscription(self.request, self.kwargs["pk"]).deliveries.order_by(
            "-created_at", "-pk"
        )


class WebhookRedeliver(APIView):
    permission_classes = [*APIView.permission_classes, ManagesWebhooks]

    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send a delivery again, with the same payload, as a new delivery",
        tags=TAGS,
        request=None,
        responses={202: WebhookDeliveryOut},
    )
    def post(self, request: Request, pk: int, delivery_id: int) -> Response:
        delivery = get_object_or_404(subscription(request, pk).deliveries, pk=delivery_id)
        if delivery.status not in (Notification.Status.SENT, Notification.Status.FAILED):
            raise StillDelivering()
        again = webhooks.redeliver(delivery)
        return Response(WebhookDeliveryOut(again).data, status=status.HTTP_202_ACCEPTED)


api_urls = [
    path("webhooks/", WebhookList.as_view(), name="webhooks"),
    path("webhooks/<id:pk>/", WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<id:pk>/ping/", WebhookPing.as_view(), name="webhook-ping"),
    path(
        "webhooks/<id:pk>/rotate-secret/",
        WebhookRotateSecret.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<id:pk>/deliveries/", WebhookDeliveries.as_view(), name="webhook-deliveries"),
    path(
        "webhooks/<id:pk>/deliveries/<id:delivery_id>/redeliver/",
        WebhookRedeliver.as_view(),
        name="webhook-redeliver",
    ),
]
