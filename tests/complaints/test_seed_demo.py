from __future__ import annotations

from django.core.management import call_command
from django.db.models import Count
from django.test import Client

from accounts.models import User
from accounts.roles import Role
from complaints.management.commands.seed_demo import DEMO_PASSWORD, TARGET_STATES
from complaints.models import Complaint, Event
from routing.models import Category, Department


def test_seed_demo_is_idempotent_and_covers_every_state_and_role(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    counts = (Complaint.objects.count(), Event.objects.count(), User.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (Complaint.objects.count(), Event.objects.count(), User.objects.count()) == counts

    assert Complaint.objects.count() == len(TARGET_STATES) == 50
    by_state = dict(Complaint.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_state) == set(Complaint.Status.values)
    assert set(Category.objects.values_list("code", flat=True)) == {
        "service_quality", "efficiency", "facilities", "staff_conduct", "policy_inquiry", "other",
    }  # fmt: skip
    assert all(c.name_zh and c.name_en for c in Category.objects.all())
    assert Department.objects.count() >= 5
    for role in Role:
        assert User.objects.filter(groups__name=role.value).exists(), role


def test_every_demo_complaint_has_a_timeline_written_by_the_services(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    for complaint in Complaint.objects.all():
        kinds = list(complaint.events.values_list("kind", flat=True))
        assert kinds[0] == "complaint.received"
        last_transition = complaint.events.exclude(to_state="").latest("id")
        assert last_transition.to_state == complaint.status


def test_demo_users_can_log_in_with_the_documented_password(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    for username in ("clerk", "dispatcher", "handler", "head", "supervisor", "auditor", "admin"):
        assert Client().login(username=username, password=DEMO_PASSWORD), username
