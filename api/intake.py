"""Channel intake over REST: ``POST /api/v1/intake/`` for integrations.

Authentication is a channel client's token (``Authorization: Token …``); every request
carries an ``Idempotency-Key``. JSON (attachments as base64) and multipart (attachments
as file parts named ``attachments``; nested fields as ``petitioner.name``) are accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import body as error_body
from api.permissions import channel_scope
from api.schema import ERROR_RESPONSE
from api.serializers import validated
from complaints.files import Upload
from complaints.models import Complaint, ContactPreference, Petitioner
from intake import idempotency
from intake.links import private_link
from intake.models import ChannelClient
from intake.services import InvalidSubmission, submit
from intake.submission import Submission
from ops import faults


class PetitionerInput(serializers.Serializer[dict[str, Any]]):
    type = serializers.ChoiceField(
        choices=Petitioner.Type.choices, default=Petitioner.Type.INDIVIDUAL
    )
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    organisation = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    id_number = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")


class AttachmentInput(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=255)
    content_type = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    content_base64 = serializers.CharField()

    def validate_content_base64(self, value: str) -> bytes:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise serializers.ValidationError(_("This is not valid base64.")) from error


class IntakeInput(serializers.Serializer[dict[str, Any]]):
    kind = serializers.ChoiceField(choices=Complaint.Kind.choices, default=Complaint.Kind.COMPLAINT)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    content = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    petitioner = PetitionerInput(required=False)
    anonymous = serializers.BooleanField(default=False)
    contact_preference = serializers.ChoiceField(
        choices=ContactPreference.choices, required=False, allow_blank=True, default=""
    )
    location = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, required=False, allow_null=True, default=None
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, required=False, allow_null=True, default=None
    )
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    privacy_consent = serializers.BooleanField(default=False)
    channel_data = serializers.DictField(required=False, default=dict)
    attachments = AttachmentInput(many=True, required=False, default=list)


class IntakeOutput(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    tracking_code = serializers.CharField()
    status = serializers.CharField()
    tracking_url = serializers.CharField()
    missing = serializers.ListField(child=serializers.CharField())


def submission_from(data: dict[str, Any], **extra: Any) -> Submission:
    """The normalised submission of validated ``IntakeInput`` data (plus ``extra``)."""
    petitioner = data.get("petitioner") or {}
    return Submission(
        kind=data["kind"],
        title=data["title"],
        content=data["content"],
        petitioner_type=petitioner.get("type", Petitioner.Type.INDIVIDUAL),
        name=petitioner.get("name", ""),
        organisation=petitioner.get("organisation", ""),
        phone=petitioner.get("phone", ""),
        email=petitioner.get("email", ""),
        id_number=petitioner.get("id_number", ""),
        address=petitioner.get("address", ""),
        language=petitioner.get("language", ""),
        anonymous=data["anonymous"],
        contact_preference=data["contact_preference"],
        location=data["location"],
        latitude=data["latitude"],
        longitude=data["longitude"],
        occurred_at=data["occurred_at"],
        privacy_consent=data["privacy_consent"],
        **extra,
    )


def submitted(submission: Submission, **options: Any) -> Any:
    """``intake.services.submit``, with its field errors named as this API names fields."""
    try:
        return submit(submission, **options)
    except InvalidSubmission as error:
        nested = set(PetitionerInput().fields)
        error.errors = {
            (f"petitioner.{name}" if name in nested else name): messages
            for name, messages in error.errors.items()
        }
        raise


def uploads_of(request: Request, data: dict[str, Any]) -> tuple[Upload, ...]:
    uploads = [
        Upload(name=a["name"], content_type=a["content_type"], data=a["content_base64"])
        for a in data["attachments"]
    ]
    uploads.extend(Upload.from_file(file) for file in request.FILES.getlist("attachments"))
    return tuple(uploads)


def _fingerprint(data: dict[str, Any], uploads: tuple[Upload, ...]) -> str:
    files = [(u.name, hashlib.sha256(u.data).hexdigest()) for u in uploads]
    without_bytes = {**data, "attachments": files}
    return idempotency.fingerprint(without_bytes)


class IntakeView(APIView):
    """Submit a complaint from a channel. One request, one complaint, whatever the retries."""

    permission_classes = [channel_scope(ChannelClient.Scope.INTAKE)]

    @extend_schema(
        operation_id="intake_submit",
        summary="Submit a complaint from a channel",
        tags=["intake"],
        request={"application/json": IntakeInput, "multipart/form-data": IntakeInput},
        responses={
            201: IntakeOutput,
            409: ERROR_RESPONSE,
            422: ERROR_RESPONSE,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=True,
                description="Your own unique key for this submission; a retry with the same "
                "key answers the first result (with `Idempotent-Replayed: true`).",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        client: ChannelClient = request.user  # type: ignore[assignment]
        key = request.headers.get("Idempotency-Key", "").strip()
        if not idempotency.valid_key(key):
            return Response(
                error_body(
                    "idempotency_key",
                    _(
                        "Send an Idempotency-Key header (1–255 printable ASCII characters) "
                        "with every request."
                    ),
                ),
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = validated(IntakeInput, request)
        uploads = uploads_of(request, data)
        claim = idempotency.begin(client, key, _fingerprint(data, uploads))
        if claim.replay is not None:
            response = Response(claim.replay.response_body, status=claim.replay.response_status)
            response["Idempotent-Replayed"] = "true"
            return response
        if claim.conflict:
            return Response(
                error_body(
                    "idempotency_conflict",
                    _("This Idempotency-Key was already used for a different request."),
                ),
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if claim.in_flight:
            return Response(
                error_body(
                    "idempotency_in_flight",
                    _(
                        "A request with this Idempotency-Key is still being processed; "
                        "retry shortly."
                    ),
                ),
                status=status.HTTP_409_CONFLICT,
            )
        assert claim.record is not None
        try:
            return self._submit(request, client, key, data, uploads, claim.record)
        except BaseException:
            idempotency.release(claim.record)
            raise

    def _submit(
        self,
        request: Request,
        client: ChannelClient,
        key: str,
        data: dict[str, Any],
        uploads: tuple[Upload, ...],
        record: Any,
    ) -> Response:
        submission = submission_from(
            data,
            channel=client.channel,
            uploads=uploads,
            channel_data={**data["channel_data"], "client": client.name},
            external_ref=f"client-{client.pk}:{key}",
            client=client,
        )
        with transaction.atomic():
            receipt = submitted(submission, actor_label=f"channel:{client.name}")
            complaint = receipt.complaint
            # IntakeOutput's shape, built directly: the busiest answer of the API.
            body = {
                "id": complaint.pk,
                "tracking_code": complaint.tracking_code,
                "status": complaint.status,
                "tracking_url": private_link(request, complaint.tracking_code, receipt.secret)
                if receipt.secret
                else "",
                "missing": list(receipt.missing),
            }
            idempotency.finish(
                record, status=status.HTTP_201_CREATED, body=body, complaint=complaint
            )
        # Committed, not yet answered: where a crash hurts most (tests/chaos; inert here).
        faults.point("exit-after-commit:intake")
        return Response(body, status=status.HTTP_201_CREATED)
