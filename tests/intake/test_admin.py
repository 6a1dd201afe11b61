from __future__ import annotations

import re
from typing import Any

from django.test import Client

from intake.models import ChannelClient


def test_adding_a_channel_client_shows_its_token_once(admin_user: Any) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    response = client.post(
        "/admin/intake/channelclient/add/", {"name": "crm", "channel": "api"}, follow=True
    )
    match = re.search(r"shown only now: (stc_[\w-]+)", response.content.decode())
    assert match is not None
    assert ChannelClient.authenticate(match.group(1)) == ChannelClient.objects.get(name="crm")
    page = client.get(f"/admin/intake/channelclient/{ChannelClient.objects.get().pk}/change/")
    assert match.group(1) not in page.content.decode()


def test_revoking_stops_the_token(admin_user: Any) -> None:
    channel_client, token = ChannelClient.create_with_token(name="old-app")
    client = Client()
    client.force_login(admin_user)
    client.post(
        "/admin/intake/channelclient/",
        {"action": "revoke", "_selected_action": [channel_client.pk]},
    )
    assert ChannelClient.authenticate(token) is None
    channel_client.refresh_from_db()
    assert channel_client.revoked_at is not None
