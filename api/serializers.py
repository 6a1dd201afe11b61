"""How complaints read in the API: one shape for staff, one for the channel that sent them.

Staff see what the console shows them — the petitioner masked as on the complaint page,
revealed only through ``POST …/personal-data/`` (which is logged). A channel sees what the
petitioner sees on the tracking page: state, public timeline, the question asked, replies.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from complaints import privacy, selectors, services, surveys
from complaints.models import Complaint
from sla.models import Deadline


def validated(kind: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    """The request's body, checked by the input serializer ``kind``: its validated data,
    or a ValidationError (answered 400 with each field's errors, unknown fields too)."""
    incoming = kind(data=request.data)
    check(incoming)
    return dict(incoming.validated_data)


# Sent by a browser's HTML form beside the fields; never a field of its own.
_NOT_FIELDS = frozenset({"csrfmiddlewaretoken"})


def unknown_fields(serializer: serializers.Serializer[Any], data: Any, path: str = "") -> list[str]:
    """The names in ``data`` that ``serializer`` does not take, as dotted paths.

    Read-only fields count as unknown: ``id``, ``status`` or ``tracking_code`` in a body
    would otherwise be dropped in silence, and the caller believe it had set them. Form
    bodies (multipart) name nested fields ``petitioner.name`` and list items
    ``attachments[0]name``; JSON bodies are walked into nested objects and lists.
    """
    writable = {name: f for name, f in serializer.fields.items() if not f.read_only}
    found: list[str] = []
    if hasattr(data, "getlist"):  # a QueryDict: flat keys
        for key in data:
            name, dot, rest = key.partition(".")
            name = name.split("[", 1)[0]
            if key in _NOT_FIELDS and not path:
                continue
            nested = writable.get(name)
            if nested is None:
                found.append(f"{path}{key}")
            elif dot and isinstance(nested, serializers.Serializer):
                sub = rest.split(".", 1)[0]
                if sub not in nested.fields or nested.fields[sub].read_only:
                    found.append(f"{path}{key}")
        return found
    if not isinstance(data, dict):
        return found
    for key, value in data.items():
        field = writable.get(key)
        if field is None:
            found.append(f"{path}{key}")
        elif isinstance(field, serializers.Serializer) and isinstance(value, dict):
            found += unknown_fields(field, value, f"{path}{key}.")
        elif isinstance(field, serializers.ListSerializer) and isinstance(value, list):
            child = field.child
            if isinstance(child, serializers.Serializer):
                for index, item in enumerate(value):
                    found += unknown_fields(child, item, f"{path}{key}.{index}.")
    return found


def check(incoming: serializers.Serializer[Any]) -> None:
    """Validate ``incoming`` (bound to a request's body) and refuse fields it does not take.

    Unknown fields are an error rather than ignored, so that a misspelt field is not lost
    in silence and a field the caller may not set (``status``, ``assignee``, ``due_at``)
    is refused by name; the API's schema says so (``additionalProperties: false``).
    """
    valid = incoming.is_valid()
    errors: dict[str, Any] = {} if valid else dict(incoming.errors)
    for name in unknown_fields(incoming, incoming.initial_data):
        errors[name] = [
            serializers.ErrorDetail(
                _("There is no field “%(name)s” here: leave it out, or check its spelling.")
                % {"name": name},
                code="unknown_field",
            )
        ]
    if errors:
        raise serializers.ValidationError(errors)


class Reference(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()


class Person(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


def reference(obj: Any) -> dict[str, str] | None:
    return None if obj is None else {"code": obj.code, "name": obj.name}


def person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "username": user.get_username(),
        "name": user.get_full_name() or user.get_username(),
    }


class PetitionerOut(serializers.Serializer[Any]):
    """The petitioner as the caller may see them; ``masked`` tells whether values are."""

    name = serializers.CharField()
    type = serializers.CharField()
    organisation = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    id_number = serializers.CharField()
    address = serializers.CharField()
    anonymous = serializers.BooleanField()
    masked = serializers.BooleanField()
    can_reveal = serializers.BooleanField()


PETITIONER_FIELDS = tuple(PetitionerOut().fields)


def petitioner_of(
    complaint: Complaint, user: Any, *, revealed: bool = False
) -> dict[str, Any] | None:
    view = privacy.petitioner_view(complaint, user, revealed=revealed)
    if view is None:
        return None
    return {name: getattr(view, name) for name in PETITIONER_FIELDS}


class DeadlineOut(serializers.Serializer[Any]):
    stage = serializers.CharField()
    state = serializers.CharField()
    warn_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField()
    overdue = serializers.BooleanField()


class ComplaintFacts(serializers.Serializer[Any]):
    """What anyone who may see a complaint at all sees of it: staff and its channel."""

    id = serializers.IntegerField()
    tracking_code = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Complaint.Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    kind = serializers.ChoiceField(choices=Complaint.Kind.choices)
    received_at = serializers.DateTimeField()
    replied_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class ComplaintSummary(ComplaintFacts):
    """A complaint in a list."""

    channel = serializers.ChoiceField(choices=Complaint.Channel.choices)
    priority = serializers.ChoiceField(choices=Complaint.Priority.choices)
    category = serializers.SerializerMethodField()
    department = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()
    is_sensitive = serializers.BooleanField()
    overdue_since = serializers.DateTimeField(allow_null=True)
    supervision = serializers.CharField()
    version = serializers.IntegerField()

    @extend_schema_field(Reference(allow_null=True))
    def get_category(self, complaint: Complaint) -> dict[str, str] | None:
        return reference(complaint.category)

    @extend_schema_field(Reference(allow_null=True))
    def get_department(self, complaint: Complaint) -> dict[str, str] | None:
        return reference(complaint.department)

    @extend_schema_field(Person(allow_null=True))
    def get_assignee(self, complaint: Complaint) -> dict[str, Any] | None:
        return person(complaint.assignee)


class ComplaintDetail(ComplaintSummary):
    """One complaint, with what the caller may do to it now."""

    content = serializers.CharField()
    location = serializers.CharField()
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6, allow_null=True)
    occurred_at = serializers.DateTimeField(allow_null=True)
    is_anonymous = serializers.BooleanField()
    contact_preference = serializers.CharField()
    petitioner = serializers.SerializerMethodField()
    merged_into = serializers.SerializerMethodField()
    reopen_count = serializers.IntegerField()
    review_requested_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField()
    allowed_actions = serializers.SerializerMethodField()
    deadlines = serializers.SerializerMethodField()

    @extend_schema_field(PetitionerOut(allow_null=True))
    def get_petitioner(self, complaint: Complaint) -> dict[str, Any] | None:
        return petitioner_of(complaint, self.context["request"].user)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_merged_into(self, complaint: Complaint) -> str | None:
        merged = complaint.merged_into
        return merged.tracking_code if merged is not None else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, complaint: Complaint) -> list[str]:
        """The state changes the caller may make now (each one is ``POST …/<action>/``)."""
        return [t.name for t in services.allowed_actions(complaint, self.context["request"].user)]

    @extend_schema_field(DeadlineOut(many=True))
    def get_deadlines(self, complaint: Complaint) -> list[dict[str, Any]]:
        now = timezone.now()
        pending = Deadline.objects.filter(
            complaint=complaint, state__in=[Deadline.State.OPEN, Deadline.State.PAUSED]
        )
        return [
            {
                "stage": d.stage,
                "state": d.state,
                "warn_at": d.warn_at,
                "due_at": d.due_at,
                "overdue": d.state == Deadline.State.OPEN and d.due_at <= now,
            }
            for d in pending.order_by("due_at")
        ]


# --- What a channel sees of the complaints it sent --------------------------------------


class PublicEventOut(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    what = serializers.CharField()
    text = serializers.CharField()
    attachments = serializers.ListField(child=serializers.CharField())


class PublicReplyOut(serializers.Serializer[Any]):
    body = serializers.CharField()
    sent_at = serializers.DateTimeField()


class SubmissionOut(ComplaintFacts):
    """A complaint as its petitioner sees it on the tracking page."""

    question = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    replies = serializers.SerializerMethodField()
    survey_open = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField())
    def get_question(self, complaint: Complaint) -> str:
        """What staff asked the petitioner, while the complaint waits for details."""
        if complaint.status != Complaint.Status.NEEDS_INFO:
            return ""
        return selectors.open_question(complaint)

    @extend_schema_field(PublicEventOut(many=True))
    def get_timeline(self, complaint: Complaint) -> list[dict[str, Any]]:
        return [
            {"at": e.at, "what": str(e.label), "text": e.text, "attachments": list(e.attachments)}
            for e in selectors.public_timeline(complaint)
        ]

    @extend_schema_field(PublicReplyOut(many=True))
    def get_replies(self, complaint: Complaint) -> list[dict[str, Any]]:
        return [{"body": r.body, "sent_at": r.sent_at} for r in selectors.sent_replies(complaint)]

    @extend_schema_field(serializers.BooleanField())
    def get_survey_open(self, complaint: Complaint) -> bool:
        survey = surveys.current(complaint)
        return bool(survey is not None and survey.is_open)
