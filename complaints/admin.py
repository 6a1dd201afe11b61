"""Back-office views of complaints: read-only records with transition buttons.

State changes go through the same services as the console and the API (never a direct
save), so the admin cannot skip a guard, a permission or the audit trail.

Personal data is masked for users without ``view_personal_data`` (``complaints.privacy``);
an anonymous petitioner stays anonymous here for everyone: revealing happens in the
console, with a reason, and is logged. Opening a complaint's, a petitioner's or a data
request's page, a list showing petitioners' contact details, and every edit of them are
in the audit log (``accounts.admin.AuditedAdminMixin``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_fsm.admin import FSMAdminMixin

from accounts.admin import AuditedAdminMixin
from complaints import permissions, privacy, selectors, services
from complaints.errors import DomainError
from complaints.models import (
    ApprovalRule,
    Attachment,
    CoHandlingTask,
    Complaint,
    Event,
    Petitioner,
    Reply,
    ReplyTemplate,
    Survey,
)
from ops.admin import RecordAdmin


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(ReadOnlyInline):
    model = Event
    fields = ("created_at", "event", "actor", "actor_label", "from_state", "to_state", "payload")
    readonly_fields = fields

    @admin.display(description=_("event"))
    def event(self, obj: Event) -> str:
        return obj.kind_label


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ("original_name", "content_type", "size", "sha256", "scan_status", "created_at")
    readonly_fields = fields


class CoHandlingInline(ReadOnlyInline):
    model = CoHandlingTask
    fields = ("department", "task", "due_at", "status", "result", "completed_at")
    readonly_fields = fields


class ReplyInline(ReadOnlyInline):
    model = Reply
    fields = (
        "body",
        "author",
        "approved_by",
        "approved_at",
        "sent_at",
        "delivery",
        "delivered_at",
        "delivery_note",
    )
    readonly_fields = fields


class SurveyInline(ReadOnlyInline):
    model = Survey
    fields = (
        "round",
        "sent_at",
        "closes_at",
        "answered_at",
        "via",
        "resolved",
        "rating",
        "comment",
        "outcome",
    )
    readonly_fields = fields


@admin.register(Complaint)
class ComplaintAdmin(AuditedAdminMixin, FSMAdminMixin, admin.ModelAdmin):
    fsm_fields = ["status"]
    list_display = (
        "tracking_code",
        "title",
        "status",
        "priority",
        "category",
        "department",
        "assignee",
        "channel",
        "received_at",
        "supervision",
    )
    list_filter = (
        "status",
        "close_reason",
        "priority",
        "supervision",
        "channel",
        "kind",
        "category",
        "department",
    )
    list_select_related = ("category", "department", "assignee")
    search_fields = ("tracking_code", "title", "external_ref")
    date_hierarchy = "received_at"
    inlines = [ReplyInline, SurveyInline, CoHandlingInline, AttachmentInline, EventInline]
    readonly_fields = (
        "tracking_code",
        "status",
        "priority",
        "kind",
        "channel",
        "external_ref",
        "title",
        "content",
        "location",
        "petitioner",
        "earlier_petitions",
        "is_sensitive",
        "category",
        "department",
        "assignee",
        "merged_into",
        "received_at",
        "replied_at",
        "closed_at",
        "overdue_since",
        "supervision",
        "version",
    )
    fields = readonly_fields

    @staticmethod
    def get_fsm_block_label(fsm_field_name: str) -> str:
        return str(_("Actions"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_readonly_fields(request, obj)
        if _sees_personal_data(request) and not (obj and obj.is_anonymous):
            return fields
        return tuple("petitioner_masked" if f == "petitioner" else f for f in fields)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_readonly_fields(request, obj)

    def personal_fields_shown(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The petitioner's name, where get_readonly_fields shows it; the rest is masked.
        if obj is None or obj.petitioner_id is None:
            return []
        return ["petitioner.name"] if "petitioner" in self.get_readonly_fields(request, obj) else []

    @admin.display(description=_("petitioner"))
    def petitioner_masked(self, obj: Complaint) -> str:
        card = privacy.petitioner_view(obj, None)  # no user: everything masked
        if card is None:
            return "-"
        return " · ".join(v for v in (card.name, card.organisation, card.phone, card.email) if v)

    @admin.display(description=_("earlier petitions by this petitioner"))
    def earlier_petitions(self, obj: Complaint) -> int:
        return selectors.earlier_petitions(obj)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> Any:
        # Nothing on the page is editable; only the transition buttons act.
        read_only = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete_link": False,
        }
        return super().change_view(request, object_id, form_url, read_only | (extra_context or {}))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Nothing is edited here directly; the transition buttons call the services.
        return None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # complaints arrive through a channel (intake), not the back-office

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing is lost: finished complaints are archived

    def _apply_fsm_transition(
        self,
        *,
        obj: Any,
        transition_name: str,
        request: HttpRequest,
        kwargs: Mapping[str, Any] | None = None,
    ) -> bool:
        service = services.SERVICE_FOR_ACTION[transition_name]
        arguments = {key: value for key, value in (kwargs or {}).items() if value not in ("",)}
        try:
            service(complaint_id=obj.pk, actor=request.user, **arguments)
        except DomainError as error:
            self.message_user(request, str(error), level=messages.ERROR)
            return False
        self.message_user(
            request,
            _("%(action)s: done.") % {"action": services.action_label(transition_name)},
            level=messages.SUCCESS,
        )
        return True


def _sees_personal_data(request: HttpRequest) -> bool:
    return request.user.has_perm(permissions.perm("view_personal_data"))


@admin.register(Petitioner)
class PetitionerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Petitioners; without ``view_personal_data`` read-only, masked, not searchable by PII."""

    personal_fields = ("name", "organisation", *privacy.PERSONAL_FIELDS)

    list_display = ("__str__", "type", "phone", "email", "created_at")
    list_filter = ("type",)
    search_fields = ("name", "organisation", "phone", "email")
    masked_fields = (
        "__str__",
        "type",
        "masked_phone",
        "masked_email",
        "masked_id_number",
        "masked_address",
        "language",
        "created_at",
    )

    def personal_fields_shown(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.personal_fields) if _sees_personal_data(request) else ["name"]

    def get_list_display(self, request: HttpRequest) -> Any:
        if _sees_personal_data(request):
            return self.list_display
        return ("__str__", "type", "masked_phone", "masked_email", "created_at")

    def get_search_fields(self, request: HttpRequest) -> Any:
        if _sees_personal_data(request):
            return self.search_fields
        return ("name", "organisation")  # searching by phone would confirm a number

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if _sees_personal_data(request):
            return super().get_fields(request, obj)
        return self.masked_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if _sees_personal_data(request):
            return super().get_readonly_fields(request, obj)
        return self.masked_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Editing needs the data in the clear.
        return _sees_personal_data(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: Petitioner) -> str:
        return privacy.mask_phone(obj.phone)

    @admin.display(description=_("e-mail"))
    def masked_email(self, obj: Petitioner) -> str:
        return privacy.mask_email(obj.email)

    @admin.display(description=_("ID number"))
    def masked_id_number(self, obj: Petitioner) -> str:
        return privacy.mask_id_number(obj.id_number)

    @admin.display(description=_("address"))
    def masked_address(self, obj: Petitioner) -> str:
        return privacy.mask_address(obj.address)


@admin.register(Event)
class EventAdmin(RecordAdmin):
    """The audit log: every transition, note and reply, never edited."""

    @admin.display(description=_("event"), ordering="kind")
    def kind_label(self, obj: Event) -> str:
        return obj.kind_label

    list_display = (
        "created_at",
        "complaint",
        "kind",
        "actor",
        "actor_label",
        "from_state",
        "to_state",
    )
    list_filter = ("kind",)
    list_select_related = ("complaint", "actor")
    search_fields = ("complaint__tracking_code", "kind")
    date_hierarchy = "created_at"


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(admin.ModelAdmin):
    """Which replies need approval, beyond urgent, critical and sensitive ones."""

    list_display = ("name", "category", "kind", "priority", "levels", "is_active")
    list_filter = ("is_active", "levels", "kind", "priority")
    search_fields = ("name", "category__name_zh", "category__name_en", "category__code")
    autocomplete_fields = ("category",)


@admin.register(Survey)
class SurveyAdmin(RecordAdmin):
    """Satisfaction surveys, read-only: answers come from petitioners or phone calls."""

    list_display = (
        "complaint",
        "round",
        "sent_at",
        "closes_at",
        "outcome",
        "rating",
        "resolved",
        "via",
    )
    list_filter = ("outcome", "via", "rating", "resolved")
    search_fields = ("complaint__tracking_code",)
    date_hierarchy = "sent_at"
    list_select_related = ("complaint",)
    exclude = ("token_hash",)


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "language", "is_active", "updated_at")
    list_filter = ("is_active", "language", "category")
    search_fields = ("name", "body")


# --- Personal data requests -------------------------------------------------------------

from complaints.models import DataRequest  # noqa: E402


@admin.register(DataRequest)
class DataRequestAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Requests for a copy or erasure of personal data: to find and read them here.

    They are recorded and decided in the console (``/console/data-requests/``), which
    writes the events on the complaints' timelines and anonymises on erasure; so nothing
    is added, decided or deleted here, and only the note stays editable.
    """

    list_display = (
        "id",
        "kind",
        "status",
        "requester",
        "received_at",
        "received_by",
        "decided_at",
        "decided_by",
    )
    list_filter = ("status", "kind", "received_at", "decided_at")
    list_select_related = ("petitioner", "received_by", "decided_by")
    date_hierarchy = "received_at"
    fields = (
        "kind",
        "status",
        "requester",
        "verified_by",
        "note",
        "received_at",
        "received_by",
        "decided_at",
        "decided_by",
        "refusal_reason",
    )
    readonly_fields = tuple(f for f in fields if f != "note")
    # How identity was checked may name an ID document; the note may hold anything.
    personal_fields = ("petitioner.name", "verified_by", "note")

    def personal_fields_shown(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.personal_fields) if obj is not None else []

    def get_search_fields(self, request: HttpRequest) -> Any:
        if _sees_personal_data(request):
            return (
                "=id",
                "verified_by",
                "petitioner__name",
                "petitioner__phone",
                "petitioner__email",
            )
        return ("=id", "petitioner__name")  # searching by phone would confirm a number

    @admin.display(description=_("petitioner"))
    def requester(self, obj: DataRequest) -> str:
        person = obj.petitioner
        contact = privacy.mask_phone(person.phone) or privacy.mask_email(person.email)
        return " · ".join(part for part in (str(person), contact) if part)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Attachment)
class QuarantineAdmin(RecordAdmin):
    """Files the malware scan has not cleared: quarantined, unscannable, still waiting.

    Read-only and for supervisors and administrators (wide scope and department
    management): the bytes themselves are opened by no one, here or elsewhere.
    """

    list_display = ("original_name", "complaint", "scan_status", "scan_result", "scanned_at")
    list_select_related = ("complaint",)
    list_filter = ("scan_status",)
    search_fields = ("original_name", "scan_result", "complaint__tracking_code", "sha256")
    fields = (
        "complaint",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "scan_status",
        "scan_result",
        "scanned_at",
        "created_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).exclude(scan_status__in=Attachment.OPENABLE)

    def _may_see(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active and user.is_staff and (user.is_superuser or services.reviews(user))
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may_see(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_see(request)
