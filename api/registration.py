"""``POST /api/v1/complaints/``: staff register what came by phone, at the window or by letter.

The same submission as the console's registration form and the channels' intake: one
normalised ``Submission`` into ``intake.services.submit``. A letter number or call id
(``external_ref``) makes a retry safe: the same reference answers the complaint made the
first time (200) instead of a second one (201).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from api.intake import IntakeInput, IntakeOutput, submission_from, submitted, uploads_of
from api.serializers import validated
from complaints import permissions
from intake.forms import RegisterForm
from intake.links import private_link


class RegistrationInput(IntakeInput):
    channel = serializers.ChoiceField(choices=RegisterForm.STAFF_CHANNELS)
    received_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Empty means now."
    )
    external_ref = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Letter number or call id; the same one never registers twice.",
    )


class RegistrationOutput(IntakeOutput):
    created = serializers.BooleanField()


def register(request: Request) -> Response:
    if not request.user.has_perm(permissions.action_permission("register")):
        raise PermissionDenied(_("You are not allowed to register complaints."))
    data = validated(RegistrationInput, request)
    submission = submission_from(
        data,
        channel=data["channel"],
        uploads=uploads_of(request, data),
        channel_data=data["channel_data"],
        received_at=data["received_at"],
        external_ref=data["external_ref"],
    )
    receipt = submitted(submission, actor=request.user)
    complaint = receipt.complaint
    body = RegistrationOutput(
        {
            "id": complaint.pk,
            "tracking_code": complaint.tracking_code,
            "status": complaint.status,
            "tracking_url": (
                private_link(request, complaint.tracking_code, receipt.secret)
                if receipt.secret
                else ""
            ),
            "missing": list(receipt.missing),
            "created": receipt.created,
        }
    ).data
    return Response(body, status=status.HTTP_201_CREATED if receipt.created else status.HTTP_200_OK)
