from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import audit, tokens
from accounts.forms import AdminLoginForm
from accounts.models import AccessToken, AuditEntry, LoginFailure, User
from ops.admin import RecordAdmin

# The back-office login shares the console's lockout (accounts.lockout).
admin.site.login_form = AdminLoginForm


class AuditedAdminMixin:
    """For ModelAdmins of records that hold personal data: every page of one record
    opened (``admin.viewed``), every list that shows personal data in full
    (``admin.listed``) and every change saved (``admin.changed``) is in the audit log
    (``accounts.audit``) — with the names of the fields, never their values.

    ``personal_fields_shown`` says which personal fields a user sees unmasked; by default
    ``personal_fields``, for everyone.
    """

    personal_fields: tuple[str, ...] = ()

    def personal_fields_shown(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.personal_fields)

    def personal_fields_listed(self, request: HttpRequest) -> list[str]:
        """The personal fields a list page discloses; by default those shown in full."""
        return [f for f in self.personal_fields_shown(request) if f != "name"]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response: HttpResponse = super().change_view(  # type: ignore[misc]
            request, object_id, form_url, extra_context
        )
        shown = getattr(response, "context_data", None) or {}
        if request.method == "GET" and response.status_code == 200 and shown.get("original"):
            obj = shown["original"]
            audit.admin_viewed(request, obj, fields=self.personal_fields_shown(request, obj))
        return response

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response: HttpResponse = super().changelist_view(  # type: ignore[misc]
            request, extra_context
        )
        fields = self.personal_fields_listed(request)
        if request.method == "GET" and response.status_code == 200 and fields:
            model = self.model  # type: ignore[attr-defined]
            audit.admin_listed(request, model, fields=fields, searched=bool(request.GET.get("q")))
        return response

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        changed = list(form.changed_data) if form is not None else []
        if change and changed:
            audit.admin_changed(request, obj, fields=changed)


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):
    """Staff accounts: their e-mail addresses and phone numbers are personal data too, so a
    record opened, a search of the list (which may be by phone or e-mail: whose number is
    this?) and every change — a new password included — are in the audit log."""

    personal_fields = ("email", "phone")
    list_display = (
        "username",
        "get_full_name",
        "department",
        "role_names",
        "is_away",
        "is_active",
    )
    list_filter = ("department", "groups", "is_away", "is_active", "is_staff")
    list_select_related = ("department",)
    search_fields = ("username", "first_name", "last_name", "email", "phone")
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Organisation"), {"fields": ("department", "phone", "language", "is_away")}),
    )

    @admin.display(description=_("roles"))
    def role_names(self, obj: User) -> str:
        return ", ".join(str(role.label) for role in obj.roles)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def personal_fields_listed(self, request: HttpRequest) -> list[str]:
        # The list shows names and roles only; a search may match contact details.
        return list(self.personal_fields) if request.GET.get("q") else []

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        response: HttpResponse = super().user_change_password(request, id, form_url)
        # Saved: back to the account's page (a refused form redirects to itself).
        saved = response.status_code == 302 and response["Location"] != request.get_full_path()
        if request.method == "POST" and saved:
            audit.admin_changed(request, self.get_object(request, id), fields=["password"])
        return response


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Read-only; deleting a username's rows lifts its lock before it expires."""

    list_display = ("at", "username", "ip")
    search_fields = ("username", "ip")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LoginFailure | None = None) -> bool:
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """Every staff user's personal access tokens: read and revoke, nothing else.

    Tokens are made by their owners (console, "API tokens"), so nobody else ever sees a
    token; an administrator revokes a lost or misused one here. Revoked tokens stay, so
    that what they did stays attributed.
    """

    list_display = (
        "user",
        "name",
        "scope",
        "token_hint",
        "is_active",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "created_at",
    )
    list_filter = ("scope", "is_active")
    list_select_related = ("user",)
    search_fields = ("name", "token_hint", "user__username", "user__first_name", "user__last_name")
    date_hierarchy = "created_at"
    fields = (
        "user",
        "name",
        "scope",
        "token_hint",
        "is_active",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        by: User = request.user  # type: ignore[assignment]
        count = sum(tokens.revoke(token, by=by) for token in queryset.filter(is_active=True))
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
            % {"count": count},
            level=messages.SUCCESS,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are made by their owners, in the console

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: what a token did stays attributed


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    """Read-only: the audit log is written by the system, never edited or pruned by hand."""

    list_display = ("at", "actor_name", "action", "target", "ip")
    list_filter = ("action",)
    search_fields = ("actor_name", "action", "target")
    date_hierarchy = "at"
    fields = ("at", "actor", "actor_name", "action", "target", "ip", "detail")
    readonly_fields = fields
