"""Media in an S3 bucket (MEDIA_STORAGE=s3): every file goes in and out through the bucket.

S3 is moto's, in-process (boto3's requests are answered by it), and the storage is the
one ``config.settings`` builds from the environment. Attachments come in
through the citizen portal and the channel API and go out through the permission-checked
console and API downloads; exports are built into the bucket and expire from it. Nothing
is public and nothing touches MEDIA_ROOT.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from accounts.models import User
from complaints.models import Attachment, Complaint
from intake.models import ChannelClient
from reporting import exports
from reporting.models import ExportJob
from routing.models import Department
from tests.factories import complaint_in
from tests.intake.test_portal import FORM  # the portal form a citizen fills in
from tests.processes import clean_environment
from tests.test_settings import read_settings, run

pytestmark = pytest.mark.django_db
BUCKET = "sutong-media-test"
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}


def s3_settings(var_dir: Path, **overrides: str) -> dict[str, Any]:
    """STORAGES["default"] as config.settings builds it for MEDIA_STORAGE=s3."""
    env = clean_environment(
        var_dir,
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_S3_ADDRESSING_STYLE="path",
        **KEYS,
        **overrides,
    )
    backend: dict[str, Any] = read_settings(env, "STORAGES")["STORAGES"]["default"]
    return backend


@pytest.fixture(scope="module")
def s3_storage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return s3_settings(tmp_path_factory.mktemp("var"))


@pytest.fixture
def bucket(s3_storage: dict[str, Any], settings: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh private bucket, the default storage pointing at it, MEDIA_ROOT empty."""
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", **_credentials())
        client.create_bucket(Bucket=BUCKET)
        settings.MEDIA_ROOT = tmp_path / "media"
        settings.STORAGES = {**settings.STORAGES, "default": s3_storage}
        yield client
    assert not Path(settings.MEDIA_ROOT).exists(), "nothing may be written to the local disk"


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"],
    }


def object_bytes(bucket: Any, name: str) -> bytes:
    body: bytes = bucket.get_object(Bucket=BUCKET, Key=name)["Body"].read()
    return body


def assert_private(bucket: Any, name: str) -> None:
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=name)["Grants"]
    assert not {grant["Grantee"].get("URI") for grant in grants} & PUBLIC_GRANTEES
    bucket_grants = bucket.get_bucket_acl(Bucket=BUCKET)["Grants"]
    assert not {grant["Grantee"].get("URI") for grant in bucket_grants} & PUBLIC_GRANTEES
    # Even asked for a link, the storage signs it: there is no public address.
    assert "X-Amz-Signature=" in default_storage.url(name)


def download(client: Client, address: str) -> bytes:
    response = client.get(address)
    assert response.status_code == 200, address
    assert response["Cache-Control"] == "private, no-store"
    content: bytes = response.getvalue()
    return content


def test_the_settings_build_a_private_s3_storage(tmp_path: Path) -> None:
    backend = s3_settings(tmp_path, AWS_S3_ENDPOINT_URL="http://minio:9000")

    assert backend["BACKEND"] == "storages.backends.s3.S3Storage"
    options = backend["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"]) == (BUCKET, "http://minio:9000")
    assert (options["region_name"], options["addressing_style"]) == ("us-east-1", "path")
    assert (options["access_key"], options["secret_key"]) == ("testing", "testing-secret")
    assert options["default_acl"] is None  # the bucket's own: private
    assert options["querystring_auth"] is True  # any link would be signed and expire


def test_s3_without_a_bucket_is_refused_at_start(tmp_path: Path) -> None:
    env = clean_environment(tmp_path, MEDIA_STORAGE="s3")
    result = run(env, "-c", "import django; django.setup()")
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_the_default_is_the_local_disk(tmp_path: Path) -> None:
    backend = read_settings(clean_environment(tmp_path), "STORAGES")["STORAGES"]["default"]
    assert backend == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_a_portal_attachment_is_stored_in_the_bucket_and_downloaded_through_the_checks(
    bucket: Any, supervisor: User, market_handler: User
) -> None:
    response = Client().post("/submit/", {**FORM, "attachments": [_upload("现场.png", PNG)]})
    assert response.status_code == 302

    attachment = Attachment.objects.get()
    name = str(attachment.file.name)
    assert name.startswith("attachments/")
    assert object_bytes(bucket, name) == PNG
    assert attachment.file.size == len(PNG)
    assert_private(bucket, name)

    staff = Client()
    staff.force_login(supervisor)
    assert download(staff, f"/console/attachments/{attachment.pk}/") == PNG
    assert download(staff, f"/api/v1/attachments/{attachment.pk}/download/") == PNG

    # The permission check still decides: a handler of another department gets nothing.
    outsider = Client()
    outsider.force_login(market_handler)
    assert outsider.get(f"/console/attachments/{attachment.pk}/").status_code == 404
    assert outsider.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 404


def test_a_channel_api_attachment_in_base64_lands_in_the_bucket(
    bucket: Any, supervisor: User
) -> None:
    _, token = ChannelClient.create_with_token(name="wechat", channel="wechat")
    body = {
        "title": "井盖丢失",
        "content": "人民路口的井盖丢了。",
        "petitioner": {"name": "王芳", "phone": "13987654321"},
        "attachments": [{"name": "现场.png", "content_base64": base64.b64encode(PNG).decode()}],
    }
    response = Client().post(
        "/api/v1/intake/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_IDEMPOTENCY_KEY="s3-1",
    )
    assert response.status_code == 201

    attachment = Complaint.objects.get().attachments.get()
    assert object_bytes(bucket, str(attachment.file.name)) == PNG
    staff = Client()
    staff.force_login(supervisor)
    assert download(staff, f"/api/v1/attachments/{attachment.pk}/download/") == PNG


def test_an_export_is_built_into_the_bucket_and_expires_from_it(
    bucket: Any, settings: Any, head: User, urban: Department
) -> None:
    settings.EXPORT_SYNC_LIMIT = 1
    for _ in range(3):
        complaint_in("assigned", department=urban)
    owner = Client()
    owner.force_login(head)
    started = owner.post(
        "/reports/exports/",
        {"export": "complaints", "query": "q=department", "format": "csv"},
    )
    assert started.status_code == 302
    job = exports.run(ExportJob.objects.get().pk)  # what the worker does
    assert job is not None
    assert job.status == ExportJob.Status.DONE

    name = str(job.file.name)
    assert name.startswith("exports/")
    stored = object_bytes(bucket, name)
    assert stored.startswith(b"\xef\xbb\xbf")  # the CSV, with its BOM
    assert_private(bucket, name)
    assert download(owner, f"/reports/exports/{job.pk}/download/") == stored

    gone = exports.housekeeping(now=timezone.now() + timedelta(days=settings.EXPORT_KEEP_DAYS + 1))
    assert gone["expired"] == 1
    assert bucket.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["KeyCount"] == 0


def _upload(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)
