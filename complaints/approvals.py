"""Which replies need approval before they go out, and who may give it.

Built in (DESIGN: "an urgent reply needs approval first"): urgent, critical and sensitive
complaints need one level, the department head. Administrators add ``ApprovalRule`` rows
for categories (a rule on a category covers its sub-categories), kinds or priorities, and
may ask for a second level, a supervisor. The most levels of all matching rules apply.

Level 1 is given by someone who may approve replies within the complaint's department
(its head, or a supervisor); level 2 by someone whose reach is every department. Nobody
approves their own text, and nobody approves two levels of the same text: four eyes,
then six.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils.translation import gettext as _

from complaints import permissions
from complaints.errors import GuardFailed, PermissionDenied
from complaints.models import ApprovalRule, Complaint, Reply, ReplyApproval

if TYPE_CHECKING:
    from accounts.models import User

MAX_LEVELS = 2


def required_levels(complaint: Complaint) -> int:
    """How many approval levels a reply to ``complaint`` needs now (0, 1 or 2)."""
    levels = 1 if complaint.priority != Complaint.Priority.NORMAL or complaint.is_sensitive else 0
    rules = ApprovalRule.objects.filter(is_active=True)
    rules = rules.filter(Q(category__isnull=True) | Q(category_id__in=_category_line(complaint)))
    rules = rules.filter(Q(kind="") | Q(kind=complaint.kind))
    rules = rules.filter(Q(priority="") | Q(priority=complaint.priority))
    most = max((rule.levels for rule in rules), default=0)
    return min(MAX_LEVELS, max(levels, most))


def _category_line(complaint: Complaint) -> list[int]:
    """The complaint's category and its ancestors (a rule on a parent covers children)."""
    line: list[int] = []
    category = complaint.category
    while category is not None and category.pk not in line:
        line.append(category.pk)
        category = category.parent
    return line


def is_approved(reply: Reply) -> bool:
    return reply.approved_level >= reply.required_levels


def check_approver(reply: Reply, actor: User | None) -> int:
    """The level ``actor`` would approve ``reply`` at; raises if they may not."""
    level = reply.approved_level + 1
    if level > reply.required_levels:
        raise GuardFailed(_("This reply needs no further approval."))
    if actor is None:
        return level  # the system (tests, imports) vouches for itself
    if not actor.has_perm(permissions.action_permission("approve_reply")):
        raise PermissionDenied(_("You are not allowed to approve replies."))
    if level >= 2 and not permissions.has_wide_scope(actor):
        raise PermissionDenied(_("The second approval is a supervisor's."))
    if reply.author_id == actor.pk:
        raise GuardFailed(_("You wrote this reply: someone else must approve it."))
    already = ReplyApproval.objects.filter(
        reply=reply,
        actor=actor,
        decision=ReplyApproval.Decision.APPROVED,
        body_sha256=text_digest(reply.body),
        level__lte=reply.approved_level,
    )
    if reply.approved_level and already.exists():
        raise GuardFailed(_("You approved the first level; the next one is someone else's."))
    return level


def text_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def waiting_label(reply: Reply) -> str:
    """Where the draft stands, for the complaint page and the approval queue."""
    if reply.returned_comment:
        return _("Sent back for changes")
    if reply.required_levels == 0:
        return _("No approval needed")
    if is_approved(reply):
        return _("Approved")
    if reply.approved_level == 0:
        return _("Waiting for the department head's approval")
    return _("Waiting for a supervisor's approval")
