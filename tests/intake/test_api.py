"""POST /api/v1/intake/: token, idempotency key, JSON and multipart."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from complaints import tracking
from complaints.models import Complaint
from intake.models import ChannelClient, IdempotencyRecord

URL = "/api/v1/intake/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BODY = {
    "kind": "complaint",
    "title": "井盖丢失",
    "content": "人民路口的井盖丢了。",
    "petitioner": {"name": "王芳", "phone": "13987654321"},
}


@pytest.fixture
def token(db: None) -> str:
    _, raw = ChannelClient.create_with_token(name="wechat", channel="wechat")
    return raw


def post(token: str, body: Any = BODY, key: str = "key-1", **headers: str) -> Any:
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {token}", "HTTP_IDEMPOTENCY_KEY": key}
    extra.update(headers)
    return Client().post(URL, json.dumps(body), content_type="application/json", **extra)


def test_a_submission_answers_201_with_code_status_and_private_link(token: str) -> None:
    response = post(token)
    assert response.status_code == 201, response.content
    body = response.json()
    complaint = Complaint.objects.get()
    assert body["id"] == complaint.pk
    assert body["tracking_code"] == complaint.tracking_code
    assert body["status"] == "received"
    assert body["missing"] == []
    assert complaint.channel == "wechat"
    prefix = f"http://testserver/track/{complaint.tracking_code}/"
    assert body["tracking_url"].startswith(prefix)
    secret = body["tracking_url"][len(prefix) :].strip("/")
    assert tracking.secret_matches(secret, complaint.secret_hash)
    assert complaint.events.get().actor_label == "channel:wechat"


def test_a_replay_returns_the_original_response(token: str) -> None:
    first = post(token)
    again = post(token)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Complaint.objects.count() == 1


def test_the_same_key_with_another_body_is_422(token: str) -> None:
    post(token)
    response = post(token, {**BODY, "content": "别的内容"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_conflict"
    assert Complaint.objects.count() == 1


def test_a_duplicate_while_the_first_is_in_flight_is_409(token: str) -> None:
    client = ChannelClient.objects.get()
    from api.intake import IntakeInput
    from intake import idempotency

    data = IntakeInput(data=BODY)
    data.is_valid(raise_exception=True)
    # The first request has claimed the key and is still working.
    fingerprint = idempotency.fingerprint({**data.validated_data, "attachments": []})
    IdempotencyRecord.objects.create(client=client, key="key-1", request_hash=fingerprint)
    response = post(token)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_flight"
    assert not Complaint.objects.exists()


def test_keys_are_per_client(token: str) -> None:
    _, other = ChannelClient.create_with_token(name="app", channel="app")
    post(token)
    post(other)
    assert Complaint.objects.count() == 2


def test_a_refused_request_releases_its_key(token: str) -> None:
    bad = post(token, {**BODY, "petitioner": {"phone": "not a phone"}})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["petitioner.phone"]
    fixed = post(token)
    assert fixed.status_code == 201


def test_missing_details_are_accepted_into_needs_info(token: str) -> None:
    response = post(token, {"title": "无内容", "content": ""})
    assert response.status_code == 201
    assert response.json()["status"] == "needs_info"
    assert response.json()["missing"] == ["content", "contact"]


def test_json_attachments_in_base64(token: str, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    body = {
        **BODY,
        "attachments": [{"name": "现场.png", "content_base64": base64.b64encode(PNG).decode()}],
    }
    assert post(token, body).status_code == 201
    assert Complaint.objects.get().attachments.get().original_name == "现场.png"


def test_multipart_with_files(token: str, settings: Any, tmp_path: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    response = Client().post(
        URL,
        {
            "title": "井盖丢失",
            "content": "人民路口的井盖丢了。",
            "petitioner.name": "王芳",
            "petitioner.phone": "13987654321",
            "attachments": [
                SimpleUploadedFile("a.png", PNG, "image/png"),
                SimpleUploadedFile("b.pdf", b"%PDF-1.4\n", "application/pdf"),
            ],
        },
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_IDEMPOTENCY_KEY="multi-1",
    )
    assert response.status_code == 201, response.content
    complaint = Complaint.objects.get()
    assert complaint.petitioner is not None
    assert complaint.petitioner.name == "王芳"
    assert sorted(a.original_name for a in complaint.attachments.all()) == ["a.png", "b.pdf"]


class TestBadRequests:
    def test_no_token_is_401(self, db: None) -> None:
        response = Client().post(URL, BODY, content_type="application/json")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"

    def test_a_wrong_token_is_401(self, db: None) -> None:
        assert post("stc_wrong").status_code == 401

    def test_a_revoked_token_is_401(self, token: str) -> None:
        ChannelClient.objects.get().revoke()
        assert post(token).status_code == 401

    def test_a_missing_idempotency_key_is_400(self, token: str) -> None:
        response = post(token, key="")
        assert response.status_code == 400
        assert response.json()["code"] == "idempotency_key"

    def test_malformed_json_is_400(self, token: str) -> None:
        response = Client().post(
            URL,
            b'{"title": "x", ',
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert response.status_code == 400

    def test_invalid_base64_is_400(self, token: str) -> None:
        body = {**BODY, "attachments": [{"name": "x.png", "content_base64": "###"}]}
        assert post(token, body).status_code == 400
        assert not Complaint.objects.exists()

    def test_a_forbidden_file_is_400_and_nothing_is_stored(self, token: str) -> None:
        svg = base64.b64encode(b"<svg onload=alert(1)></svg>").decode()
        body = {**BODY, "attachments": [{"name": "x.svg", "content_base64": svg}]}
        response = post(token, body)
        assert response.status_code == 400
        assert "x.svg" in response.json()["message"]
        assert not Complaint.objects.exists()
        assert not IdempotencyRecord.objects.exists()

    def test_a_huge_body_is_refused_not_500(self, token: str, settings: Any) -> None:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        response = post(token, {**BODY, "content": "长" * 5000})
        assert response.status_code == 400

    def test_errors_speak_the_clients_language(self, token: str) -> None:
        response = post(token, {**BODY, "petitioner": {"phone": "abc"}}, HTTP_ACCEPT_LANGUAGE="en")
        error = response.json()["errors"][0]
        assert (error["field"], error["message"]) == (
            "petitioner.phone",
            "Enter a valid phone number.",
        )


def test_create_channel_client_prints_the_token_last(db: None, capsys: Any) -> None:
    call_command("create_channel_client", "hotline-system", "--channel", "hotline")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    client = ChannelClient.authenticate(token)
    assert client is not None
    assert (client.name, client.channel) == ("hotline-system", "hotline")
    assert token not in client.token_hash


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_create_one_complaint_on_postgres() -> None:
    _, raw = ChannelClient.create_with_token(name="app", channel="app")
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def send() -> None:
        try:
            barrier.wait()
            statuses.append(post(raw, key="same").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Complaint.objects.count() == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
