from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ops.models import Heartbeat


class RecordAdmin(admin.ModelAdmin):
    """Records of what happened (events, audit entries, deadlines, quarantined files):
    looked at in the back-office, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("process", "last_seen", "hostname", "pid")

    # Not a RecordAdmin: a retired process's row may be deleted.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
