"""Working on a complaint, for staff: what the complaint page offers beside its actions.

The timeline, internal notes, the handling plan, contacts with the petitioner, files, the
reply (drafted, approved or sent back, delivered), the survey answer taken by phone,
co-handling by other departments, and more time (延期申请). Each endpoint loads the
complaint within the caller's reach (404 outside it) and calls the very service the
complaint page calls (``complaints.console.page``), so roles, states and optimistic
locking are checked in one place. Refusals are the services' own errors.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from api.complaints import visible
from api.permissions import StaffOnly
from api.schema import ERROR_RESPONSE
from api.serializers import Person, Reference, person, reference, validated
from complaints import services
from complaints.files import Upload, UploadRejected, checked_files
from complaints.forms import MultipleFileField
from complaints.models import CoHandlingTask, Complaint, Event
from routing.models import Department
from sla import services as sla_services
from sla.models import ExtensionRequest

STAFF = [*APIView.permission_classes, StaffOnly]
TAGS = ["complaint work"]
# A change answered 409 when the complaint's state or version does not allow it.
REFUSED = {409: ERROR_RESPONSE}


def staff(request: Request) -> User:
    """The member of staff calling (``StaffOnly`` lets nobody else in)."""
    return cast(User, request.user)


def checked_uploads(files: list[Any]) -> list[Any]:
    """Files as the console takes them (how many, how large), then checked by their bytes."""
    accepted = MultipleFileField().clean(files)
    try:
        return checked_files([Upload.from_file(file) for file in accepted])
    except UploadRejected as error:
        raise serializers.ValidationError(str(error), code=error.code) from error


class RequiredBoolean(serializers.BooleanField):
    """A yes or no that must be given, in a form too (DRF reads a missing one as false)."""

    default_empty_html = empty


# --- What the endpoints answer ----------------------------------------------------------


class EventOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="A dotted name, such as `complaint.assigned`.")
    kind_label = serializers.CharField()
    actor = serializers.SerializerMethodField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    payload = serializers.DictField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(
        serializers.CharField(
            help_text="The staff member's username, or who acted without one "
            "(`system`, `petitioner`, `channel:<client>`, …)."
        )
    )
    def get_actor(self, event: Event) -> str:
        return event.actor.get_username() if event.actor is not None else event.actor_label


class NoteOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    body = serializers.SerializerMethodField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField())
    def get_body(self, event: Event) -> str:
        return str(event.payload.get("body", ""))

    @extend_schema_field(Person(allow_null=True))
    def get_author(self, event: Event) -> dict[str, Any] | None:
        return person(event.actor)


class CoHandlingTaskOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    department = serializers.SerializerMethodField()
    task = serializers.CharField()
    due_at = serializers.DateTimeField()
    status = serializers.CharField(help_text="`open` or `done`.")
    result = serializers.CharField()
    completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(Reference())
    def get_department(self, task: CoHandlingTask) -> dict[str, str] | None:
        return reference(task.department)


class ExtensionOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    deadline = serializers.IntegerField(source="deadline_id")
    stage = serializers.CharField(source="deadline.stage")
    state = serializers.CharField(help_text="`pending`, `approved` or `refused`.")
    reason = serializers.CharField()
    previous_due_at = serializers.DateTimeField()
    requested_due_at = serializers.DateTimeField()
    requested_by = serializers.SerializerMethodField()
    requested_at = serializers.DateTimeField()
    decided_by = serializers.SerializerMethodField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField()

    @extend_schema_field(Person())
    def get_requested_by(self, request: ExtensionRequest) -> dict[str, Any] | None:
        return person(request.requested_by)

    @extend_schema_field(Person(allow_null=True))
    def get_decided_by(self, request: ExtensionRequest) -> dict[str, Any] | None:
        return person(request.decided_by)


# --- The timeline, notes, plan and contacts ---------------------------------------------


class ComplaintRows(generics.ListAPIView):
    """Rows of one complaint within the caller's reach, page by page (``cursor``)."""

    permission_classes = STAFF
    ordering = "created_at"

    def complaint(self) -> Complaint:
        return visible(self.request, self.kwargs["pk"])


class EventList(ComplaintRows):
    serializer_class = EventOut

    def get_queryset(self) -> QuerySet[Event]:
        return self.complaint().events.select_related("actor")

    @extend_schema(
        operation_id="complaints_events",
        summary="The complaint's timeline (its audit trail), oldest first",
        tags=TAGS,
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class NoteInput(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=20000, help_text="Seen by staff only.")


class NoteList(ComplaintRows):
    """Internal notes: seen by staff only, including co-handling departments."""

    serializer_class = NoteOut

    def get_queryset(self) -> QuerySet[Event]:
        return self.complaint().events.filter(kind="complaint.note_added").select_related("actor")

    @extend_schema(
        operation_id="complaints_notes", summary="Internal notes, oldest first", tags=TAGS
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="complaints_add_note",
        summary="Add an internal note",
        tags=TAGS,
        request=NoteInput,
        responses={201: NoteOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = self.complaint()
        data = validated(NoteInput, request)
        note = services.add_note(complaint_id=complaint.pk, body=data["body"], actor=staff(request))
        return Response(NoteOut(note).data, status=status.HTTP_201_CREATED)


class PlanInput(serializers.Serializer[Any]):
    plan = serializers.CharField(max_length=20000)


class ContactInput(serializers.Serializer[Any]):
    note = serializers.CharField(
        max_length=20000,
        help_text="How you reached the petitioner (call, visit, message) and what was said.",
    )


class RecordPlan(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_record_plan",
        summary="Record the handling plan",
        tags=TAGS,
        request=PlanInput,
        responses={201: EventOut, **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(PlanInput, request)
        event = services.record_plan(
            complaint_id=complaint.pk, plan=data["plan"], actor=staff(request)
        )
        return Response(EventOut(event).data, status=status.HTTP_201_CREATED)


class RecordContact(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_record_contact",
        summary="Record a contact with the petitioner",
        tags=TAGS,
        request=ContactInput,
        responses={201: EventOut, **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(ContactInput, request)
        event = services.record_contact(
            complaint_id=complaint.pk, note=data["note"], actor=staff(request)
        )
        return Response(EventOut(event).data, status=status.HTTP_201_CREATED)


# --- Co-handling (协办) ------------------------------------------------------------------


class CoHandlingInput(serializers.Serializer[Any]):
    department = serializers.SlugRelatedField(
        slug_field="code", queryset=Department.objects.filter(is_active=True)
    )
    task = serializers.CharField(max_length=20000)
    due_at = serializers.DateTimeField()


class CompleteInput(serializers.Serializer[Any]):
    result = serializers.CharField(max_length=20000, help_text="What your department did.")


class CoHandling(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_co_handling",
        summary="Co-handling tasks of other departments",
        tags=TAGS,
        responses={200: CoHandlingTaskOut(many=True)},
    )
    def get(self, request: Request, pk: int) -> Response:
        tasks = visible(request, pk).co_handling.select_related("department").order_by("due_at")
        return Response(CoHandlingTaskOut(tasks, many=True).data)

    @extend_schema(
        operation_id="complaints_request_co_handling",
        summary="Ask another department to handle a part",
        tags=TAGS,
        request=CoHandlingInput,
        responses={201: CoHandlingTaskOut, **REFUSED},
    )
    def post(self, request: Request, pk: int) -> Response:
        complaint = visible(request, pk)
        data = validated(CoHandlingInput, request)
        task = services.request_co_handling(
            complaint_id=complaint.pk,
            department=data["department"],
            task=data["task"],
            due_at=data["due_at"],
            actor=staff(request),
        )
        return Response(CoHandlingTaskOut(task).data, status=status.HTTP_201_CREATED)


class CompleteCoHandling(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_complete_co_handling",
        summary="Report your department's co-handling task as done",
        tags=TAGS,
        request=CompleteInput,
        responses={200: CoHandlingTaskOut},
    )
    def post(self, request: Request, task_id: int) -> Response:
        found = CoHandlingTask.objects.filter(pk=task_id).first()
        if found is None:
            raise Http404
        visible(request, found.complaint_id)
        data = validated(CompleteInput, request)
        task = services.complete_co_handling(
            task_id=found.pk, result=data["result"], actor=staff(request)
        )
        return Response(CoHandlingTaskOut(task).data)


# --- More time (延期申请) -----------------------------------------------------------------


class ExtensionInput(serializers.Serializer[Any]):
    until = serializers.DateTimeField(help_text="The new due time asked for.")
    reason = serializers.CharField(max_length=2000)


class DecisionInput(serializers.Serializer[Any]):
    approve = RequiredBoolean()
    note = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="To the handler; required when refusing.",
    )


class RequestExtension(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_request_extension",
        summary="Ask for more time on one of the complaint's limits",
        tags=TAGS,
        request=ExtensionInput,
        responses={201: ExtensionOut},
    )
    def post(self, request: Request, pk: int, deadline_id: int) -> Response:
        deadline = visible(request, pk).deadlines.filter(pk=deadline_id).first()
        if deadline is None:
            raise Http404
        data = validated(ExtensionInput, request)
        extension = sla_services.request_extension(
            deadline_id=deadline.pk,
            until=data["until"],
            reason=data["reason"],
            actor=staff(request),
        )
        return Response(ExtensionOut(extension).data, status=status.HTTP_201_CREATED)


class DecideExtension(APIView):
    permission_classes = STAFF

    @extend_schema(
        operation_id="complaints_decide_extension",
        summary="Approve or refuse a request for more time",
        tags=TAGS,
        request=DecisionInput,
        responses={200: ExtensionOut},
    )
    def post(self, request: Request, pk: int) -> Response:
        found = ExtensionRequest.objects.filter(pk=pk).select_related("deadline").first()
        if found is None:
            raise Http404
        visible(request, found.deadline.complaint_id)
        data = validated(DecisionInput, request)
        extension = sla_services.decide_extension(
            request_id=found.pk, approve=data["approve"], note=data["note"], actor=staff(request)
        )
        return Response(ExtensionOut(extension).data)
