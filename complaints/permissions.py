"""Who may do what, on which complaint — the one place views, API, admin and exports ask.

Two questions, both must say yes:

* **The role**: does the user hold the Django permission for the action
  (``complaints.<action>_complaint``)? Roles are groups carrying these permissions
  (``accounts.roles``).
* **The scope**: is the complaint within the user's reach? Roles with
  ``access_all_departments`` reach every complaint; a department head
  (``manage_department``) reaches the complaints of their department; a handler reaches
  those of their department that are unassigned or assigned to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest

if TYPE_CHECKING:
    from accounts.models import User
    from complaints.models import Complaint

APP = "complaints"


def perm(codename: str) -> str:
    return f"{APP}.{codename}"


def action_permission(action: str) -> str:
    return perm(f"{action}_complaint")


def has_wide_scope(user: User) -> bool:
    return user.has_perm(perm("access_all_departments"))


def in_scope(user: Any, complaint: Complaint) -> bool:
    if not (user and user.is_active):
        return False
    if has_wide_scope(user):
        return True
    if user.department_id is None:
        return False
    if complaint.department_id != user.department_id:
        # A co-handling department reaches the complaint while its task is open.
        return complaint.co_handling.filter(
            department_id=user.department_id, status="open"
        ).exists()
    if user.has_perm(perm("manage_department")):
        return True
    return complaint.assignee_id in (None, user.pk)


def can_act(user: Any, complaint: Complaint, action: str) -> bool:
    """May ``user`` perform ``action`` (a transition or other verb) on ``complaint``?"""
    if not (user and user.is_active):
        return False
    return user.has_perm(action_permission(action)) and in_scope(user, complaint)


def transition_permission(action: str) -> Any:
    """The ``permission=`` callable for a django-fsm transition."""

    def check(complaint: Complaint, user: Any) -> bool:
        return can_act(user, complaint, action)

    check.__name__ = f"can_{action}"
    return check


def scope_filter(user: User) -> Q:
    """The complaints ``user`` may see, as a filter (use with ``visible_to``)."""
    if not user.is_active:
        return Q(pk__in=[])
    if has_wide_scope(user):
        return Q()
    if user.department_id is None:
        return Q(pk__in=[])
    mine = Q(department_id=user.department_id)
    helping = Q(co_handling__department_id=user.department_id, co_handling__status="open")
    if user.has_perm(perm("manage_department")):
        return mine | helping
    return (mine & (Q(assignee__isnull=True) | Q(assignee=user))) | helping


def visible_to(queryset: QuerySet[Complaint], user: User) -> QuerySet[Complaint]:
    if not user.has_perm(perm("view_complaint")):
        return queryset.none()
    # distinct: the co-handling join may match one complaint more than once.
    return queryset.filter(scope_filter(user)).distinct()


# What the complaint page (console or API) shows with a complaint, loaded in one query.
PAGE_RELATIONS = ("category", "department", "assignee", "petitioner", "merged_into")


def complaint_or_404(
    user: Any, pk: int, *related: str, request: HttpRequest | None = None
) -> Complaint:
    """The complaint ``pk`` if ``user`` may see it; out of reach it does not exist (404).

    ``related`` names relations to load with it (``select_related``). A refusal of a
    complaint that does exist is written to the audit log (``log_denial``); the allowed
    path costs the one query it always did.
    """
    from django.http import Http404

    from complaints.models import Complaint

    found = visible_to(Complaint.objects.filter(pk=pk), user).select_related(*related).first()
    if found is None:
        if Complaint.objects.filter(pk=pk).exists():
            log_denial(user, f"complaint:{pk}", request=request)
        raise Http404
    return found


def log_denial(user: Any, target: str, *, request: HttpRequest | None = None) -> None:
    """Audit ``access.denied``: a signed-in user or token asked for ``target`` out of reach.

    The answer stays a plain 404 (the caller is not told that the object exists); the
    entry names the object, the caller, their address and the door they used (``via``:
    the URL name of the view or API endpoint), so a colleague browsing other departments'
    files, or a leaked token walking ids, shows up in the audit log. Anonymous callers
    never get this far (login and authentication refuse them first).
    """
    from accounts import audit
    from accounts.models import User

    if not (isinstance(user, User) and user.is_authenticated):
        return
    match = getattr(request, "resolver_match", None)
    # ``audit.record`` adds the API token, if any (DRF sets it on the Django request too).
    via = match.view_name if match is not None else ""
    audit.record("access.denied", request=request, actor=user, target=target, via=via)


def can_view_personal_data(user: Any, complaint: Complaint) -> bool:
    return bool(user and user.has_perm(perm("view_personal_data")) and in_scope(user, complaint))
