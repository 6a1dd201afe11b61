"""The staff roles of DESIGN.md and the permissions each one gets by default."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    INTAKE_CLERK = "intake_clerk", _("Intake clerk")
    DISPATCHER = "dispatcher", _("Dispatcher")
    HANDLER = "handler", _("Handler")
    DEPARTMENT_HEAD = "department_head", _("Department head")
    SUPERVISOR = "supervisor", _("Supervisor")
    AUDITOR = "auditor", _("Auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


# Codenames of complaints.Complaint permissions (see its Meta.permissions).
_HANDLING = [
    "accept_complaint",
    "transfer_complaint",
    "send_back_complaint",
    "request_info_complaint",
    "supply_info_complaint",
    "draft_reply_complaint",
    "reply_complaint",
    "close_complaint",
    "add_note_complaint",
    "view_complaint",
    "view_personal_data",
    "request_extension_complaint",
    "record_survey_complaint",
    "deliver_reply_complaint",
]
_INTAKE = [
    "register_complaint",
    "request_info_complaint",
    "supply_info_complaint",
    "withdraw_complaint",
    "reopen_complaint",
    "add_note_complaint",
    "view_complaint",
    "view_personal_data",
    "access_all_departments",
    "record_survey_complaint",
    "deliver_reply_complaint",
    "add_datarequest",
    "view_datarequest",
]
_DISPATCH = [
    *_INTAKE,
    "classify_complaint",
    "assign_complaint",
    "transfer_complaint",
    "reject_complaint",
    "merge_complaint",
    "close_complaint",
    "archive_complaint",
]

ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.INTAKE_CLERK: _INTAKE,
    Role.DISPATCHER: _DISPATCH,
    Role.HANDLER: _HANDLING,
    Role.DEPARTMENT_HEAD: [
        *_HANDLING,
        "assign_complaint",
        "approve_reply_complaint",
        "manage_department",
        "decide_extension_complaint",
    ],
    Role.SUPERVISOR: sorted(
        {
            *_DISPATCH,
            *_HANDLING,
            "approve_reply_complaint",
            "manage_department",
            "decide_extension_complaint",
            # They supervise: the audit log shows who looked at what (accounts.auditlog).
            "view_audit_log",
        }
    ),
    Role.AUDITOR: ["view_complaint", "access_all_departments", "view_audit_log"],
    Role.ADMINISTRATOR: sorted(
        {
            *_DISPATCH,
            *_HANDLING,
            "approve_reply_complaint",
            "manage_department",
            "view_audit_log",
            "decide_extension_complaint",
            "decide_datarequest",
            "change_datarequest",
        }
    ),
}


def create_missing_role_groups(sender: Any = None, **kwargs: Any) -> None:
    """Create each role's group with its default permissions, if it does not exist yet."""
    from django.contrib.auth.models import Group, Permission

    using = kwargs.get("using", "default")
    if not Permission.objects.using(using).filter(content_type__app_label="complaints").exists():
        return  # complaints not migrated yet; post_migrate will call again.
    for role, codenames in ROLE_PERMISSIONS.items():
        group, created = Group.objects.using(using).get_or_create(name=role.value)
        if created:
            perms = Permission.objects.using(using).filter(
                content_type__app_label="complaints", codename__in=codenames
            )
            group.permissions.set(perms)
