"""The reply and the survey for staff: draft, approve or return, record delivery, survey.

Sending the approved reply is the ``reply`` action (``api.complaints``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import pgettext
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.complaints import NoArguments, Versioned, expected_version, visible
from api.files import AttachmentOut
from api.serializers import Person, person, validated
from api.work import REFUSED, STAFF, TAGS, RequiredBoolean, checked_uploads, staff
from complaints import approvals, services
from complaints.models import Reply, Survey


class ReplyOut(serializers.Serializer[Any]):
    """A reply: the draft being written and approved, or one that went out."""

    id = serializers.IntegerField()
    body = serializers.CharField()
    status = serializers.SerializerMethodField()
    status_label = serializers.SerializerMethodField()
    author = serializers.SerializerMethodField()
    required_levels = serializers.IntegerField(help_text="Approval levels the reply needs.")
    approved_level = serializers.IntegerField(help_text="Levels its current text has passed.")
    approved_at = serializers.DateTimeField(allow_null=True)
    returned_comment = serializers.CharField(help_text="Why an approver sent it back.")
    delivery = serializers.CharField(help_text="How it went out (`email`, `letter`, …).")
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    delivery_note = serializers.CharField()
    attachments = serializers.SerializerMethodField()

    @extend_schema_field(
        serializers.CharField(
            help_text="`awaiting_approval`, `approved` (ready to send, also when no approval "
            "is needed), `returned` (sent back for changes) or `sent`."
        )
    )
    def get_status(self, reply: Reply) -> str:
        if reply.sent_at:
            return "sent"
        if reply.returned_comment:
            return "returned"
        return "approved" if approvals.is_approved(reply) else "awaiting_approval"

    @extend_schema_field(serializers.CharField())
    def get_status_label(self, reply: Reply) -> str:
        if reply.sent_at:
            return pgettext("delivery status", "sent")
        return approvals.waiting_label(reply)

    @extend_schema_field(Person(allow_null=True))
    def get_author(self, reply: Reply) -> dict[str, Any] | None:
        return person(reply.author)

    @extend_schema_field(AttachmentOut(many=True))
    def get_attachments(self, reply: Reply) -> list[dict[str, Any]]:
        files = reply.attachments.select_related("uploaded_by").order_by("created_at", "id")
        return list(AttachmentOut(files, many=True, context=self.context).data)


class SurveyOut(serializers.Serializer[Any]):
    round = serializers.IntegerField()
    sent_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    via = serializers.CharField(help_text="`link` (the petitioner) or `phone` (staff).")
    resolved = serializers.BooleanField(allow_null=True)
    rating = serializers.IntegerField(allow_null=True, help_text="1 (worst) to 5.")
    comment = serializers.CharField()
    outcome = serializers.CharField(
        help_text="`satisfied`, `dissatisfied`, `no_response`; empty while open."
    )
    entered_by = serializers.SerializerMethodField()

    @extend_schema_field(Person(allow_null=True))
    def get_entered_by(self, survey: Survey) -> dict[str, Any] | None:
        return person(survey.entered_by)


# --- The reply --------------------------------------------------------------------------


class DraftInput(Versioned):
    body = serializers.CharField(max_length=20000)
    attachments = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        help_text="Files to send with the reply (multipart); new files void approvals.",
    )

    def validate_attachments(self, files: list[Any]) -> list[Any]:
        return checked_uploads(files)


class ReturnInput(Versioned):
    comment = serializers.CharField(max_length=20000, help_text="What should change.")


class DeliveryInput(Versioned):
    note = serializers.CharField(
        max_length=1000, help_text="How and when the letter or oral reply was delivered."
    )


def reply_answer(request: Request, reply: Reply) -> Response:
    return Response(ReplyOut(reply, context={"request": request}).data)


class ReplyList(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_replies",
        summary="The replies: the draft and those sent, oldest first",
        tags=TAGS,
        responses={200: ReplyOut(many=True)},
    )
    def get(self, request: Request, pk: int) -> Response:
        replies = visible(request, pk).replies.select_related("author").order_by("created_at", "id")
        return Response(ReplyOut(replies, many=True, context={"request": request}).data)


class ReplyDraft(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_draft_reply",
        summary="Write or rewrite the reply",
        tags=TAGS,
        request={"application/json": DraftInput, "multipart/form-data": DraftInput},
        responses={200: ReplyOut, **REFUSED},
    )
    def put(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(DraftInput, request)
        draft = services.draft_reply(
            complaint_id=complaint.pk,
            body=data["body"],
            actor=staff(request),
            expected_version=expected_version(request, data.get("version")),
            attachments=data["attachments"],
        )
        return reply_answer(request, draft)


class ApproveReply(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_approve_reply",
        summary="Approve the draft reply at the next level",
        tags=TAGS,
        request=NoArguments,
        responses={200: ReplyOut, **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(NoArguments, request)
        draft = services.approve_reply(
            complaint_id=complaint.pk,
            actor=staff(request),
            expected_version=expected_version(request, data.get("version")),
        )
        return reply_answer(request, draft)


class ReturnReply(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_return_reply",
        summary="Send the draft reply back to its author",
        tags=TAGS,
        request=ReturnInput,
        responses={200: ReplyOut, **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(ReturnInput, request)
        draft = services.return_reply(
            complaint_id=complaint.pk,
            comment=data["comment"],
            actor=staff(request),
            expected_version=expected_version(request, data.get("version")),
        )
        return reply_answer(request, draft)


class RecordDelivery(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_record_delivery",
        summary="Record that a letter was posted or an oral reply given",
        tags=TAGS,
        request=DeliveryInput,
        responses={200: ReplyOut, **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(DeliveryInput, request)
        reply = services.record_delivery(
            complaint_id=complaint.pk,
            note=data["note"],
            actor=staff(request),
            expected_version=expected_version(request, data.get("version")),
        )
        return reply_answer(request, reply)


# --- The satisfaction survey ------------------------------------------------------------


class SurveyAnswerInput(serializers.Serializer[Any]):
    resolved = RequiredBoolean(help_text="Was the matter resolved?")
    rating = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (worst) to 5.")
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SurveyRounds(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_surveys",
        summary="The satisfaction surveys, one per round of handling",
        tags=TAGS,
        responses={200: SurveyOut(many=True)},
    )
    def get(self, request: Request, pk: int) -> Response:
        rounds = visible(request, pk).surveys.select_related("entered_by").order_by("round")
        return Response(SurveyOut(rounds, many=True).data)

    @extend_schema(
        operation_id="complaints_answer_survey",
        summary="Enter the survey answer the petitioner gave by phone",
        tags=TAGS,
        request=SurveyAnswerInput,
        responses={200: SurveyOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(SurveyAnswerInput, request)
        survey = services.answer_current_survey(
            complaint_id=complaint.pk,
            resolved=data["resolved"],
            rating=data["rating"],
            comment=data["comment"],
            actor=staff(request),
        )
        return Response(SurveyOut(survey).data)
