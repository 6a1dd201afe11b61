"""A channel's own complaints: read them, and act for the petitioner on them.

A channel client (WeChat, an app, a CRM) reaches only the complaints it submitted
(``ClientSubmission``), and sees them as the petitioner does on the tracking page
(``SubmissionOut``); any other complaint does not exist for it (404). With ``read_own``
it reads; with ``act_own`` it adds details and files, withdraws, and answers the survey,
through the services the tracking page calls, recorded as ``channel:<client>``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import channel_client
from api.intake import AttachmentInput, uploads_of
from api.permissions import channel_scope
from api.replies import SurveyAnswerInput
from api.schema import ERROR_RESPONSE
from api.serializers import ComplaintFacts, SubmissionOut, validated
from complaints import services, surveys, tracking
from complaints.errors import InvalidTransition
from complaints.files import UploadRejected
from complaints.models import Complaint
from intake import services as intake_services
from intake.models import ChannelClient

READ = [channel_scope(ChannelClient.Scope.READ_OWN)]
ACT = [channel_scope(ChannelClient.Scope.ACT_OWN)]
TAGS = ["submissions"]


def own(request: Request) -> QuerySet[Complaint]:
    """The complaints the calling client submitted."""
    return Complaint.objects.filter(client_submission__client=channel_client(request))


def own_or_404(request: Request, pk: int) -> Complaint:
    found = own(request).filter(pk=pk).select_related("merged_into").first()
    if found is None:
        raise Http404
    return found


def actor_label(request: Request) -> str:
    return f"channel:{channel_client(request).name}"


def answer(complaint: Complaint) -> Response:
    complaint.refresh_from_db()
    return Response(SubmissionOut(complaint).data)


def offered(complaint: Complaint) -> list[tuple[str, str]]:
    """What a channel may do for the petitioner now (endpoint, label), as the tracking
    page offers it: details and files unless archived, withdrawing while open, the
    survey while one waits."""
    actions = []
    if complaint.takes_entries:
        actions.append(("supplement", _("Add information")))
    if complaint.is_open:
        actions.append(("withdraw", services.action_label("withdraw")))
    if surveys.current(complaint) is not None:
        actions.append(("survey", _("Answer the survey")))
    return actions


# --- Reading ----------------------------------------------------------------------------


class SubmissionFilters(serializers.Serializer[Any]):
    status = serializers.MultipleChoiceField(choices=Complaint.Status.choices, required=False)
    tracking_code = serializers.CharField(max_length=30, required=False)


class SubmissionList(generics.ListAPIView):
    """The complaints this client submitted, newest first, page by page (``cursor``)."""

    permission_classes = READ
    # The list stays lean (one query a page); each complaint's timeline and replies are
    # read with GET …/{id}/.
    serializer_class = ComplaintFacts
    ordering = "-received_at"

    def get_queryset(self) -> QuerySet[Complaint]:
        filters = SubmissionFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        found = own(self.request).select_related("merged_into")
        if data.get("status"):
            found = found.filter(status__in=sorted(data["status"]))
        if data.get("tracking_code"):
            code = tracking.normalize_tracking_code(data["tracking_code"])
            found = found.filter(tracking_code=code or data["tracking_code"])
        return found

    @extend_schema(
        operation_id="submissions_list",
        summary="List the complaints this client submitted",
        tags=TAGS,
        parameters=[SubmissionFilters],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SubmissionRead(APIView):
    permission_classes = READ

    @extend_schema(
        operation_id="submissions_read",
        summary="Read a complaint this client submitted",
        tags=TAGS,
        responses={200: SubmissionOut},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(SubmissionOut(own_or_404(request, pk)).data)


# --- Acting for the petitioner ----------------------------------------------------------


class SupplementInput(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    attachments = AttachmentInput(
        many=True,
        required=False,
        default=list,
        help_text="In JSON, base64; in multipart, send files as `attachments` parts instead.",
    )


class WithdrawInput(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class Supplement(APIView):
    permission_classes = ACT

    @extend_schema(
        operation_id="submissions_supplement",
        summary="Add details or files for the petitioner",
        tags=TAGS,
        request={"application/json": SupplementInput, "multipart/form-data": SupplementInput},
        responses={200: SubmissionOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = own_or_404(request, pk)
        data = validated(SupplementInput, request)
        try:
            intake_services.add_supplement(
                complaint_id=complaint.pk,
                text=data["text"],
                uploads=uploads_of(request, data),
                actor=None,
                actor_label=actor_label(request),
            )
        except UploadRejected as error:
            raise serializers.ValidationError(
                {"attachments": [str(error)]}, code=error.code
            ) from error
        return answer(complaint)


class Withdraw(APIView):
    permission_classes = ACT

    @extend_schema(
        operation_id="submissions_withdraw",
        summary="Withdraw the complaint at the petitioner's request",
        tags=TAGS,
        request=WithdrawInput,
        responses={200: SubmissionOut, 409: ERROR_RESPONSE},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = own_or_404(request, pk)
        data = validated(WithdrawInput, request)
        try:
            services.withdraw(
                complaint_id=complaint.pk,
                reason=data["reason"],
                actor=None,
                actor_label=actor_label(request),
            )
        except InvalidTransition as error:
            # Named as the channel may act, not as staff would: a channel has its own verbs.
            complaint.refresh_from_db()
            actions = offered(complaint)
            raise InvalidTransition(
                state_label=error.state_label,
                action_label=services.action_label("withdraw"),
                allowed=[label for _name, label in actions],
                actions=[name for name, _label in actions],
            ) from error
        return answer(complaint)


class AnswerSurvey(APIView):
    permission_classes = ACT

    @extend_schema(
        operation_id="submissions_answer_survey",
        summary="Answer the satisfaction survey for the petitioner",
        tags=TAGS,
        request=SurveyAnswerInput,
        responses={200: SubmissionOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = own_or_404(request, pk)
        data = validated(SurveyAnswerInput, request)
        # As the petitioner answering online (``via=link``): no staff member entered it.
        services.answer_current_survey(
            complaint_id=complaint.pk,
            resolved=data["resolved"],
            rating=data["rating"],
            comment=data["comment"],
            actor=None,
            actor_label=actor_label(request),
        )
        return answer(complaint)
