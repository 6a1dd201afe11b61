"""Who may read the reports, and of which departments.

Roles with ``access_all_departments`` (supervisors, auditors, administrators — and the
intake and dispatch roles, which reach every complaint anyway) read every department. A
department head (``manage_department`` without that wide scope) reads their own
department only. Everybody else reads no report.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from complaints import permissions


def department_lock(user: Any) -> int | None:
    """``None``: every department; an id: only that one. Raises PermissionDenied otherwise."""
    if not (user and user.is_active):
        raise PermissionDenied
    if permissions.has_wide_scope(user):
        return None
    if user.department_id is not None and user.has_perm(permissions.perm("manage_department")):
        return int(user.department_id)
    raise PermissionDenied


def can_read_reports(user: Any) -> bool:
    try:
        department_lock(user)
    except PermissionDenied:
        return False
    return True
