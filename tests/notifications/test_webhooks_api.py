"""Webhook subscriptions over REST: who may manage which, and what each endpoint answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import AccessToken, User
from intake.models import ChannelClient
from notifications import webhooks
from notifications.models import Notification, WebhookSubscription
from routing.models import Department
from tests.notifications.test_webhooks import install_fake_dns

pytestmark = [pytest.mark.django_db]

Status = Notification.Status
HOOKS = "/api/v1/webhooks/"
EVENTS = ["complaint.created", "complaint.closed"]


@pytest.fixture(autouse=True)
def _setup(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    install_fake_dns(monkeypatch)
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_HOSTS = []
    # Budgets per caller are tested with the API; here they would only add noise.
    settings.API_RATE_CLIENT = settings.API_RATE_STAFF = settings.API_RATE_ANONYMOUS = 0


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def manager(db: None) -> User:
    user = User.objects.create_user(username="integrations", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="manage_webhooks"))
    return User.objects.get(pk=user.pk)


def as_staff(api: APIClient, user: User, scope: str = AccessToken.Scope.WRITE) -> None:
    _token, raw = AccessToken.create_with_token(user=user, name="script", scope=scope)
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")


def as_client(
    api: APIClient, name: str = "WeChat", scopes: Sequence[str] = ("intake", "webhooks")
) -> ChannelClient:
    client, raw = ChannelClient.create_with_token(name=name, scopes=list(scopes))
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def items(response: Any) -> list[dict[str, Any]]:
    """A list's rows, paginated or not."""
    data = response.json()
    return data["results"] if isinstance(data, dict) else data


def subscribe(**fields: Any) -> WebhookSubscription:
    fields.setdefault("name", "CRM")
    fields.setdefault("url", "https://hooks.example.com/sutong")
    fields.setdefault("events", EVENTS)
    subscription = WebhookSubscription(**fields)
    subscription.issue_secret()
    subscription.save()
    return subscription


def error_fields(response: Any) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


# --- Who may -------------------------------------------------------------------------


def test_staff_who_manage_webhooks_create_one_and_see_its_secret_once(
    api: APIClient, manager: User, urban: Department
) -> None:
    as_staff(api, manager)

    created = api.post(
        HOOKS,
        {
            "name": "CRM",
            "url": "https://hooks.example.com/sutong",
            "events": EVENTS,
            "department": "urban_management",
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    subscription = WebhookSubscription.objects.get()
    assert body["secret"] == subscription.secret
    assert body["secret"].startswith("whsec_")
    assert body["secret_hint"] == subscription.secret_hint
    assert (body["events"], body["department"], body["client"], body["is_active"]) == (
        EVENTS,
        "urban_management",
        None,
        True,
    )
    assert (subscription.department, subscription.created_by) == (urban, manager)

    read = api.get(f"{HOOKS}{subscription.pk}/")
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert subscription.secret not in read.content.decode()
    assert [row["id"] for row in items(api.get(HOOKS))] == [subscription.pk]


def test_superusers_manage_webhooks(api: APIClient, admin_user: User) -> None:
    api.force_authenticate(admin_user)
    assert api.get(HOOKS).status_code == 200


def test_staff_without_the_permission_are_refused(api: APIClient, dispatcher: User) -> None:
    subscription = subscribe()
    as_staff(api, dispatcher)

    assert api.get(HOOKS).status_code == 403
    assert api.post(HOOKS, {"name": "x"}, format="json").status_code == 403
    assert api.get(f"{HOOKS}{subscription.pk}/").status_code == 403
    assert api.post(f"{HOOKS}{subscription.pk}/ping/").status_code == 403


def test_a_read_only_token_only_reads(api: APIClient, manager: User) -> None:
    subscribe()
    as_staff(api, manager, scope=AccessToken.Scope.READ)

    assert api.get(HOOKS).status_code == 200
    refused = api.post(
        HOOKS,
        {"name": "CRM", "url": "https://hooks.example.com/x", "events": EVENTS},
        format="json",
    )
    assert refused.status_code == 403


def test_nobody_anonymous(api: APIClient) -> None:
    assert api.get(HOOKS).status_code in (401, 403)


def test_a_channel_client_needs_the_webhooks_scope(api: APIClient) -> None:
    as_client(api, scopes=["intake"])

    assert api.get(HOOKS).status_code == 403
    refused = api.post(
        HOOKS,
        {"name": "Mine", "url": "https://hooks.example.com/x", "events": EVENTS},
        format="json",
    )
    assert refused.status_code == 403
    assert not WebhookSubscription.objects.exists()


def test_a_channel_client_subscribes_for_its_own_complaints_only(
    api: APIClient, urban: Department
) -> None:
    other = ChannelClient.create_with_token(name="App", scopes=["webhooks"])[0]
    client = as_client(api)

    body = {
        "name": "Mine",
        "url": "https://hooks.example.com/wechat",
        "events": ["complaint.status_changed"],
    }
    # Neither may be chosen by a client: it hears of its own complaints, all of them. Sent
    # anyway, they are refused by name (unknown fields are errors: api.serializers.check).
    forged = api.post(
        HOOKS, {**body, "client": other.pk, "department": "urban_management"}, format="json"
    )
    assert forged.status_code == 400
    assert {e["field"] for e in forged.json()["errors"]} == {"client", "department"}
    assert not WebhookSubscription.objects.exists()

    created = api.post(HOOKS, body, format="json")

    assert created.status_code == 201, created.json()
    subscription = WebhookSubscription.objects.get()
    assert (subscription.client, subscription.department, subscription.created_by) == (
        client,
        None,
        None,
    )
    assert created.json()["client"] == client.pk


def test_a_channel_client_sees_only_its_own_subscriptions(api: APIClient) -> None:
    client = as_client(api)
    mine = subscribe(client=client, name="mine")
    other_client = ChannelClient.create_with_token(name="App", scopes=["webhooks"])[0]
    theirs = subscribe(client=other_client, name="theirs")
    staff_made = subscribe(name="staff")

    assert [row["id"] for row in items(api.get(HOOKS))] == [mine.pk]
    for subscription in (theirs, staff_made):
        url = f"{HOOKS}{subscription.pk}/"
        assert api.get(url).status_code == 404
        assert api.patch(url, {"name": "taken"}, format="json").status_code == 404
        assert api.delete(url).status_code == 404
        assert api.post(f"{url}ping/").status_code == 404
        assert api.post(f"{url}rotate-secret/").status_code == 404
        assert api.get(f"{url}deliveries/").status_code == 404
    assert WebhookSubscription.objects.filter(name="taken").count() == 0
    assert WebhookSubscription.objects.count() == 3


def test_staff_see_every_subscription(api: APIClient, manager: User) -> None:
    client = ChannelClient.create_with_token(name="App", scopes=["webhooks"])[0]
    theirs = subscribe(client=client)
    ours = subscribe(name="ours")
    as_staff(api, manager)

    assert {row["id"] for row in items(api.get(HOOKS))} == {theirs.pk, ours.pk}
    assert api.get(f"{HOOKS}{theirs.pk}/").json()["client"] == client.pk


# --- Validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "https://internal.example.com/hook",
        "http://hooks.example.com/hook",
        "https://user:pw@hooks.example.com/hook",
        "not a url",
    ],
)
def test_a_url_that_may_not_receive_webhooks_is_a_field_error(
    api: APIClient, manager: User, url: str
) -> None:
    as_staff(api, manager)

    refused = api.post(HOOKS, {"name": "x", "url": url, "events": EVENTS}, format="json")

    assert refused.status_code == 400
    assert error_fields(refused) == {"url"}
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize(
    ("events", "field"),
    [([], "events"), (["complaint.deleted"], "events.0"), ("complaint.created", "events")],
)
def test_events_must_be_known_and_not_empty(
    api: APIClient, manager: User, events: Any, field: str
) -> None:
    as_staff(api, manager)

    refused = api.post(
        HOOKS,
        {"name": "x", "url": "https://hooks.example.com/x", "events": events},
        format="json",
    )

    assert refused.status_code == 400
    assert error_fields(refused) == {field}


def test_a_change_is_validated_too(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))

    refused = api.patch(
        f"{HOOKS}{subscription.pk}/", {"url": "https://192.168.1.1/"}, format="json"
    )

    assert refused.status_code == 400
    assert error_fields(refused) == {"url"}


# --- Changing, pinging, rotating, deleting ------------------------------------------------


def test_a_subscription_is_changed_with_patch(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))

    changed = api.patch(
        f"{HOOKS}{subscription.pk}/",
        {"events": ["complaint.replied"], "url": "https://hooks.example.com/v2"},
        format="json",
    )

    assert changed.status_code == 200
    subscription.refresh_from_db()
    assert (subscription.events, subscription.url) == (
        ["complaint.replied"],
        "https://hooks.example.com/v2",
    )
    assert changed.json()["events"] == ["complaint.replied"]
    put = api.put(f"{HOOKS}{subscription.pk}/", {}, format="json")
    assert put.status_code == 405


def test_deactivating_fails_the_deliveries_still_waiting(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    waiting = webhooks.ping(subscription)

    changed = api.patch(f"{HOOKS}{subscription.pk}/", {"is_active": False}, format="json")

    assert changed.status_code == 200
    assert changed.json()["is_active"] is False
    waiting.refresh_from_db()
    assert waiting.status == Status.FAILED


def test_a_ping_is_queued(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))

    answered = api.post(f"{HOOKS}{subscription.pk}/ping/")

    assert answered.status_code == 202
    delivery = subscription.deliveries.get()
    assert answered.json()["id"] == delivery.pk
    assert (answered.json()["event"], answered.json()["status"]) == ("webhook.ping", "pending")


def test_rotating_answers_the_new_secret_once(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    old = subscription.secret

    answered = api.post(f"{HOOKS}{subscription.pk}/rotate-secret/")

    assert answered.status_code == 200
    subscription.refresh_from_db()
    assert answered.json()["secret"] == subscription.secret != old
    assert answered.json()["secret_hint"] == subscription.secret_hint
    assert "secret" not in api.get(f"{HOOKS}{subscription.pk}/").json()


def test_deleting_a_subscription_deletes_its_delivery_log(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    webhooks.ping(subscription)

    assert api.delete(f"{HOOKS}{subscription.pk}/").status_code == 204

    assert not WebhookSubscription.objects.exists()
    assert not Notification.objects.exists()


# --- Deliveries -------------------------------------------------------------------------


def test_deliveries_are_listed_newest_first(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    first = webhooks.ping(subscription)
    second = webhooks.ping(subscription)
    Notification.objects.filter(pk=first.pk).update(
        status=Status.FAILED, attempts=6, response_status=500, last_error="WebhookError: HTTP 500"
    )
    webhooks.ping(subscribe(name="another"))  # not listed: another subscription's

    listed = items(api.get(f"{HOOKS}{subscription.pk}/deliveries/"))

    assert [row["id"] for row in listed] == [second.pk, first.pk]
    assert set(listed[1]) == {
        "id",
        "event",
        "status",
        "attempts",
        "response_status",
        "last_error",
        "created_at",
        "sent_at",
        "next_attempt_at",
    }
    assert (listed[1]["status"], listed[1]["response_status"], listed[1]["attempts"]) == (
        "failed",
        500,
        6,
    )


def test_a_finished_delivery_is_redelivered_as_a_new_one(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    delivery = webhooks.ping(subscription)
    Notification.objects.filter(pk=delivery.pk).update(status=Status.SENT, response_status=200)

    answered = api.post(f"{HOOKS}{subscription.pk}/deliveries/{delivery.pk}/redeliver/")

    assert answered.status_code == 202
    again = Notification.objects.get(pk=answered.json()["id"])
    assert again.pk != delivery.pk
    assert (again.body, again.kind, again.status) == (delivery.body, "webhook.ping", "pending")


def test_a_delivery_still_waiting_is_not_redelivered(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    delivery = webhooks.ping(subscription)

    answered = api.post(f"{HOOKS}{subscription.pk}/deliveries/{delivery.pk}/redeliver/")

    assert answered.status_code == 409
    assert answered.json()["code"] == "still_delivering"
    assert subscription.deliveries.count() == 1


def test_another_subscriptions_delivery_is_not_found(api: APIClient) -> None:
    subscription = subscribe(client=as_client(api))
    elsewhere = webhooks.ping(subscribe(name="staff"))

    answered = api.post(f"{HOOKS}{subscription.pk}/deliveries/{elsewhere.pk}/redeliver/")

    assert answered.status_code == 404


# --- Schema -----------------------------------------------------------------------------


def test_the_endpoints_are_documented() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operations = {
        operation["operationId"]: (route, method)
        for route, methods in schema["paths"].items()
        for method, operation in methods.items()
        if route.startswith("/api/v1/webhooks/")
    }
    assert set(operations) == {
        "webhooks_list",
        "webhooks_create",
        "webhooks_read",
        "webhooks_update",
        "webhooks_delete",
        "webhooks_ping",
        "webhooks_rotate_secret",
        "webhooks_deliveries",
        "webhooks_redeliver",
    }
    for route, method in operations.values():
        assert schema["paths"][route][method]["tags"] == ["webhooks"]
    components = schema["components"]["schemas"]
    assert "secret" in components["WebhookWithSecretOut"]["properties"]
    assert "secret" not in components["WebhookOut"]["properties"]
    assert "event" in components["WebhookDeliveryOut"]["properties"]
