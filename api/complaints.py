"""Complaints for staff: list, read, register, and every state change as an action.

Each transition of the lifecycle is ``POST /api/v1/complaints/<id>/<action>/`` and calls
the very service the console calls, so roles, scope, guards and optimistic locking are the
same. An action the state does not allow answers 409 with ``allowed_actions``; sending the
``version`` you read (or ``If-Match: "<version>"``) turns a concurrent change into a 409
instead of acting on a complaint you have not seen.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import StaffOnly
from api.registration import RegistrationInput, RegistrationOutput, register
from api.schema import ERROR_RESPONSE
from api.serializers import (
    ComplaintDetail,
    ComplaintSummary,
    PetitionerOut,
    petitioner_of,
    validated,
)
from complaints import permissions, queues, services, tracking
from complaints.models import Complaint, Delivery
from ops.params import ascii_int
from routing.models import Category, Department

User = get_user_model()


def visible(request: Request, pk: int) -> Complaint:
    """The complaint ``pk`` if the caller may see it; else 404 (it does not exist for them)."""
    # The Django request under DRF's: it carries the user, the token and the URL name.
    return permissions.complaint_or_404(
        request.user, pk, *permissions.PAGE_RELATIONS, request=request._request
    )


def detail(request: Request, complaint: Complaint, code: int = status.HTTP_200_OK) -> Response:
    response = Response(ComplaintDetail(complaint, context={"request": request}).data, status=code)
    response["ETag"] = f'"{complaint.version}"'
    return response


def expected_version(request: Request, given: int | None) -> int | None:
    """The version the caller acts on: ``version`` in the body, else ``If-Match``."""
    if given is not None:
        return given
    match = request.headers.get("If-Match", "").strip().strip('W/"')
    return ascii_int(match)


# --- Listing and reading ----------------------------------------------------------------


class ComplaintFilters(serializers.Serializer[Any]):
    """The console's queue filters, as query parameters."""

    queue = serializers.ChoiceField(
        choices=list(queues.QUEUES), required=False, help_text="One of the console's queues."
    )
    text = serializers.CharField(required=False, max_length=200)
    status = serializers.MultipleChoiceField(choices=Complaint.Status.choices, required=False)
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False
    )
    priority = serializers.ChoiceField(choices=Complaint.Priority.choices, required=False)
    channel = serializers.ChoiceField(choices=Complaint.Channel.choices, required=False)
    department = serializers.SlugRelatedField(
        slug_field="code", queryset=Department.objects.all(), required=False
    )
    received_from = serializers.DateField(required=False)
    received_to = serializers.DateField(required=False)
    overdue = serializers.BooleanField(required=False, default=False)
    ordering = serializers.ChoiceField(
        choices=["received_at", "-received_at", "updated_at", "-updated_at"],
        required=False,
        default="-received_at",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and start > end:
            raise serializers.ValidationError(
                {"received_to": _("The end date is before the start date.")}
            )
        return data


class ComplaintList(generics.ListCreateAPIView):
    """Complaints within your reach, newest first, page by page (``cursor``)."""

    permission_classes = [*APIView.permission_classes, StaffOnly]
    serializer_class = ComplaintSummary

    def get_queryset(self) -> QuerySet[Complaint]:
        filters = ComplaintFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = dict(filters.validated_data)
        user = self.request.user
        queue = data.pop("queue", None)
        if queue:
            found = queues.base_queryset(user, queue)  # type: ignore[arg-type]
        else:
            found = permissions.visible_to(Complaint.objects.all(), user)  # type: ignore[arg-type]
        self.ordering = data.pop("ordering")
        if data.get("status"):
            data["status"] = sorted(data["status"])
        found = queues.apply_filters(found, data, user)  # type: ignore[arg-type]
        return found.select_related("category", "department", "assignee")

    @extend_schema(
        operation_id="complaints_list",
        summary="List complaints",
        tags=["complaints"],
        parameters=[ComplaintFilters],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="complaints_register",
        summary="Register a complaint taken by phone, at the window or by letter",
        tags=["complaints"],
        request={"application/json": RegistrationInput, "multipart/form-data": RegistrationInput},
        responses={201: RegistrationOutput, 200: RegistrationOutput},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return register(request)


class ComplaintRead(APIView):
    permission_classes = [*APIView.permission_classes, StaffOnly]

    @extend_schema(
        operation_id="complaints_read",
        summary="Read a complaint",
        tags=["complaints"],
        responses={200: ComplaintDetail},
    )
    def get(self, request: Request, pk: int) -> Response:
        return detail(request, visible(request, pk))


# --- State changes ----------------------------------------------------------------------


class Versioned(serializers.Serializer[Any]):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The version you read; a change made since then answers 409.",
    )


class NoArguments(Versioned):
    pass


class ClassifyInput(Versioned):
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.filter(is_active=True)
    )
    priority = serializers.ChoiceField(choices=Complaint.Priority.choices)
    kind = serializers.ChoiceField(choices=Complaint.Kind.choices, required=False)


class QuestionInput(Versioned):
    question = serializers.CharField(max_length=2000)


class DetailsInput(Versioned):
    details = serializers.CharField(max_length=20000)


class AssignInput(Versioned):
    department = serializers.SlugRelatedField(
        slug_field="code", queryset=Department.objects.filter(is_active=True)
    )
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True, department__isnull=False),
        required=False,
        allow_null=True,
        help_text="A handler's username; leave out to let the department pick one.",
    )


class TransferInput(AssignInput):
    reason = serializers.CharField(max_length=2000)


class ReasonInput(Versioned):
    reason = serializers.CharField(max_length=2000)


class OptionalReasonInput(Versioned):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class MergeInput(Versioned):
    into = serializers.CharField(
        max_length=30, help_text="Tracking code of the complaint this one duplicates."
    )

    def validate_into(self, value: str) -> int:
        code = tracking.normalize_tracking_code(value)
        target = Complaint.objects.filter(tracking_code=code).only("pk").first() if code else None
        if target is None:
            raise serializers.ValidationError(_("No complaint has this tracking code."))
        return target.pk


class SendReplyInput(Versioned):
    delivery = serializers.ChoiceField(
        choices=Delivery.choices,
        required=False,
        help_text="How the reply goes out; by default the way the complaint came in.",
    )


# action → (input, how its fields become the service's keywords)
ACTIONS: dict[str, tuple[type[Versioned], str]] = {
    "classify": (ClassifyInput, "Confirm or correct category and priority"),
    "request_info": (QuestionInput, "Ask the petitioner for missing details"),
    "supply_info": (DetailsInput, "Record the details the petitioner supplied"),
    "assign": (AssignInput, "Assign to a department (and a handler)"),
    "transfer": (TransferInput, "Transfer to another department"),
    "send_back": (ReasonInput, "Return a misrouted complaint to the dispatchers"),
    "accept": (NoArguments, "Accept and start handling"),
    "reply": (SendReplyInput, "Send the approved reply"),
    "close": (NoArguments, "Close"),
    "reopen": (ReasonInput, "Reopen (the petitioner is not satisfied)"),
    "reject": (ReasonInput, "Reject as out of scope or spam"),
    "merge": (MergeInput, "Merge into the complaint it duplicates"),
    "withdraw": (OptionalReasonInput, "Record the petitioner's withdrawal"),
    "archive": (NoArguments, "Archive"),
}
KEYWORDS = {"merge": {"into": "into_id"}}


class TransitionView(APIView):
    permission_classes = [*APIView.permission_classes, StaffOnly]
    action_name = ""

    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        arguments = validated(ACTIONS[self.action_name][0], request)
        version = expected_version(request, arguments.pop("version", None))
        renamed = KEYWORDS.get(self.action_name, {})
        arguments = {renamed.get(k, k): v for k, v in arguments.items() if v not in ("", None)}
        services.SERVICE_FOR_ACTION[self.action_name](
            complaint_id=complaint.pk, actor=request.user, expected_version=version, **arguments
        )
        complaint.refresh_from_db()
        return detail(request, complaint)


def transition_view(action: str) -> Any:
    """The view of one action, with its own input documented in the schema."""
    incoming, summary = ACTIONS[action]

    def post(self: TransitionView, request: Request, pk: int) -> Response:
        return TransitionView.post(self, request, pk)

    documented = extend_schema(
        operation_id=f"complaints_{action}",
        summary=summary,
        tags=["complaint actions"],
        request=incoming,
        responses={200: ComplaintDetail, 409: ERROR_RESPONSE},
        parameters=[
            OpenApiParameter(
                "If-Match",
                location=OpenApiParameter.HEADER,
                required=False,
                description='The version you read, as `"<version>"` (instead of `version`).',
            )
        ],
    )(post)
    name = f"{action.title().replace('_', '')}View"
    view = type(name, (TransitionView,), {"action_name": action, "post": documented})
    return view.as_view()  # type: ignore[attr-defined]


# --- Personal data ----------------------------------------------------------------------


class RevealInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=500, help_text="Why you need the data; kept in the audit log."
    )


class RevealPersonalData(APIView):
    """The petitioner's data unmasked: needs the permission, a reason, and is logged."""

    permission_classes = [*APIView.permission_classes, StaffOnly]

    @extend_schema(
        operation_id="complaints_reveal_personal_data",
        summary="Reveal the petitioner's personal data (logged)",
        tags=["complaints"],
        request=RevealInput,
        responses={200: PetitionerOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(RevealInput, request)
        services.reveal_personal_data(
            complaint_id=complaint.pk,
            reason=data["reason"],
            actor=request.user,  # type: ignore[arg-type]
        )
        response = Response(petitioner_of(complaint, request.user, revealed=True))
        response["Cache-Control"] = "no-store"
        return response
