from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.forms import AdminLoginForm
from accounts.models import LoginFailure, User

# The back-office login shares the console's lockout (accounts.lockout).
admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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
