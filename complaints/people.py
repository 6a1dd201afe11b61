"""Who, among the staff, hears about one complaint: its heads, the supervisors.

For one-off notices (a reply to approve, a reopened complaint). The SLA sweep, which
needs this for thousands of complaints at once, keeps its own cached directory
(``sla.recipients``).
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from accounts.roles import Role
from routing.models import Department


def _holders(role: Role) -> QuerySet[User]:
    return User.objects.filter(is_active=True, groups__name=role.value).distinct()


def heads_of(department_id: int | None) -> list[User]:
    """The department's heads, else the nearest parent department's; else supervisors."""
    seen: list[int] = []
    while department_id is not None and department_id not in seen:
        seen.append(department_id)
        heads = list(_holders(Role.DEPARTMENT_HEAD).filter(department_id=department_id))
        if heads:
            return heads
        department_id = (
            Department.objects.filter(pk=department_id).values_list("parent_id", flat=True).first()
        )
    return supervisors()


def supervisors() -> list[User]:
    """Supervisors, else administrators: someone always hears."""
    return list(_holders(Role.SUPERVISOR)) or list(_holders(Role.ADMINISTRATOR))
