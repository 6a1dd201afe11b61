"""Personal data: masked by default, revealed only with a reason, and every reveal logged."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from complaints import services
from complaints.errors import GuardFailed, PermissionDenied
from complaints.models import Complaint, Event
from complaints.privacy import (
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    petitioner_view,
)
from tests.factories import PetitionerFactory, complaint_in

PHONE, EMAIL = "13812345678", "zhangwei@example.com"
ID_NUMBER, ADDRESS = "110101199003071234", "幸福路88号3栋2单元501"


# --- Masks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("0086 13812345678", "0086 138****5678"),
        ("010-12345678", "***-****5678"),
        ("+44 20 7946 0958", "+44 ** **** 0958"),
        ("+1 (415) 555-2671", "+1 (***) ***-2671"),
        ("+447911123456", "+********3456"),
        ("12345", "****5"),
        ("110", "**0"),
        ("12", "**"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("zhangwei@example.com", "z******@example.com"),
        ("a@example.org", "******@example.org"),
        ("张伟@例子.中国", "张******@例子.中国"),
        ("john.smith@mail.co.uk", "j******@mail.co.uk"),
        ("not-an-address", "n******"),
        ("", ""),
    ],
)
def test_mask_email_keeps_the_first_character_and_the_domain(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101199003071234", "110101********1234"),
        ("11010119900307123X", "110101********123X"),
        ("110101900307123", "***********7123"),  # old 15-digit ID: last four only
        ("E12345678", "*****5678"),  # passport
        ("12345", "****5"),
        ("", ""),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("幸福路88号3栋2单元501", "幸福路88号…"),
        ("北京市朝阳区建国路88号", "北京市朝阳区建国路…"),
        ("北京市朝阳区某某小区", "北京市…"),
        ("221B Baker Street, London NW1 6XE", "Baker Street…"),
        ("Flat 3, 12 High Street, Oxford", "High Street…"),
        ("Somewhere", "Som…"),
        ("", ""),
    ],
)
def test_mask_address_keeps_the_street_and_drops_the_rest(value: str, masked: str) -> None:
    assert mask_address(value) == masked


def test_mask_name_says_anonymous_in_the_users_language() -> None:
    with translation.override("zh-hans"):
        assert mask_name("张伟") == "匿名"
    with translation.override("en"):
        assert mask_name("John Smith") == "Anonymous"


# --- The petitioner card ----------------------------------------------------------------


@pytest.fixture
def complaint(handler: User) -> Complaint:
    return complaint_in(
        Complaint.Status.ASSIGNED,
        department=handler.department,
        assignee=handler,
        petitioner=PetitionerFactory(
            id_number=ID_NUMBER, address=ADDRESS, organisation="幸福小区业委会"
        ),
        contact_preference="phone",
    )


def test_a_handler_with_the_permission_sees_masked_values_and_may_reveal(
    complaint: Complaint, handler: User
) -> None:
    card = petitioner_view(complaint, handler)
    assert card is not None
    assert (card.name, card.organisation) == ("张伟", "幸福小区业委会")
    assert (card.phone, card.email) == ("138****5678", "z******@example.com")
    assert (card.id_number, card.address) == ("110101********1234", "幸福路88号…")
    assert card.masked
    assert card.can_reveal


def test_revealed_shows_the_values_to_a_user_with_the_permission(
    complaint: Complaint, handler: User
) -> None:
    card = petitioner_view(complaint, handler, revealed=True)
    assert card is not None
    assert (card.phone, card.email, card.id_number, card.address) == (
        PHONE,
        EMAIL,
        ID_NUMBER,
        ADDRESS,
    )
    assert not card.masked


def test_an_auditor_sees_masked_values_and_cannot_reveal(
    complaint: Complaint, auditor: User
) -> None:
    card = petitioner_view(complaint, auditor, revealed=True)
    assert card is not None
    assert (card.phone, card.id_number) == ("138****5678", "110101********1234")
    assert card.masked
    assert not card.can_reveal


def test_an_anonymous_petitioners_identity_is_withheld_from_the_handler(
    complaint: Complaint, handler: User
) -> None:
    complaint.is_anonymous = True
    with translation.override("en"):
        card = petitioner_view(complaint, handler)
    assert card is not None
    assert (card.name, card.organisation, card.id_number, card.address) == (
        "Anonymous",
        "",
        "",
        "",
    )
    assert card.phone == "138****5678"
    assert card.masked
    assert card.can_reveal
    assert card.anonymous


def test_a_complaint_without_a_petitioner_has_no_card(handler: User) -> None:
    complaint = complaint_in(
        Complaint.Status.ASSIGNED, department=handler.department, petitioner=None
    )
    assert petitioner_view(complaint, handler) is None


# --- Revealing --------------------------------------------------------------------------


def test_revealing_records_the_reason_and_the_fields_but_no_values(
    complaint: Complaint, handler: User
) -> None:
    version = complaint.version
    event = services.reveal_personal_data(
        complaint_id=complaint.pk, reason="  回访核实身份  ", actor=handler
    )
    assert (event.kind, event.actor) == ("personal_data.viewed", handler)
    assert event.payload == {
        "reason": "回访核实身份",
        "fields": ["phone", "email", "id_number", "address"],
    }
    assert PHONE not in str(event.payload)
    complaint.refresh_from_db()
    assert complaint.version == version  # nothing changed on the complaint


def test_revealing_needs_a_reason(complaint: Complaint, handler: User) -> None:
    with pytest.raises(GuardFailed):
        services.reveal_personal_data(complaint_id=complaint.pk, reason=" ", actor=handler)
    assert not Event.objects.filter(kind="personal_data.viewed").exists()


def test_revealing_needs_the_permission(complaint: Complaint, auditor: User) -> None:
    with pytest.raises(PermissionDenied):
        services.reveal_personal_data(complaint_id=complaint.pk, reason="curious", actor=auditor)


def test_revealing_an_anonymous_petitioner_lists_the_identity_too(
    complaint: Complaint, handler: User
) -> None:
    complaint.is_anonymous = True
    complaint.save()
    event = services.reveal_personal_data(
        complaint_id=complaint.pk, reason="needs a call back", actor=handler
    )
    assert event.payload["fields"][:2] == ["name", "organisation"]


# --- The reveal page --------------------------------------------------------------------


def client_for(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def reveal_url(complaint: Complaint) -> str:
    return reverse("console:reveal", args=[complaint.pk])


def test_the_reveal_page_asks_for_a_reason(complaint: Complaint, handler: User) -> None:
    response = client_for(handler).get(reveal_url(complaint))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="reason"' in page
    assert PHONE not in page
    assert not Event.objects.filter(kind="personal_data.viewed").exists()


def test_revealing_without_a_reason_shows_the_error(complaint: Complaint, handler: User) -> None:
    response = client_for(handler).post(reveal_url(complaint), {"reason": "  "})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert PHONE not in page
    assert not Event.objects.filter(kind="personal_data.viewed").exists()


def test_revealing_with_a_reason_shows_the_data_and_logs_it(
    complaint: Complaint, handler: User
) -> None:
    response = client_for(handler).post(reveal_url(complaint), {"reason": "回访"})
    assert response.status_code == 200
    page = response.content.decode()
    for value in (PHONE, EMAIL, ID_NUMBER, ADDRESS):
        assert value in page
    event = Event.objects.get(kind="personal_data.viewed")
    assert (event.actor, event.payload["reason"]) == (handler, "回访")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["Pragma"] == "no-cache"


def test_the_masked_card_links_to_the_reveal_page(complaint: Complaint, handler: User) -> None:
    from django.template.loader import render_to_string

    card = petitioner_view(complaint, handler)
    html = render_to_string(
        "complaints/_petitioner.html", {"petitioner": card, "complaint": complaint}
    )
    assert reveal_url(complaint) in html
    assert "138****5678" in html
    assert PHONE not in html


def test_the_card_of_a_user_without_the_permission_has_no_reveal_link(
    complaint: Complaint, auditor: User
) -> None:
    from django.template.loader import render_to_string

    card = petitioner_view(complaint, auditor)
    html = render_to_string(
        "complaints/_petitioner.html", {"petitioner": card, "complaint": complaint}
    )
    assert reveal_url(complaint) not in html


def test_a_complaint_out_of_scope_is_not_found(complaint: Complaint, market_handler: User) -> None:
    response = client_for(market_handler).post(reveal_url(complaint), {"reason": "x"})
    assert response.status_code == 404
    assert not Event.objects.filter(kind="personal_data.viewed").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_user_without_the_permission_is_refused(
    complaint: Complaint, auditor: User, method: str
) -> None:
    response = getattr(client_for(auditor), method)(reveal_url(complaint), {"reason": "x"})
    assert response.status_code == 403
    assert not Event.objects.filter(kind="personal_data.viewed").exists()


def test_anonymous_visitors_are_sent_to_the_login(complaint: Complaint) -> None:
    response = Client().get(reveal_url(complaint))
    assert response.status_code == 302
    assert reverse("console:login") in response["Location"]


# --- The back-office --------------------------------------------------------------------


@pytest.fixture
def staff_auditor(auditor: User) -> User:
    from django.contrib.auth.models import Permission

    auditor.is_staff = True
    auditor.save()
    auditor.user_permissions.add(Permission.objects.get(codename="view_petitioner"))
    return User.objects.get(pk=auditor.pk)


def test_the_admin_masks_the_petitioner_for_staff_without_the_permission(
    complaint: Complaint, staff_auditor: User
) -> None:
    client = client_for(staff_auditor)
    listing = client.get(reverse("admin:complaints_petitioner_changelist")).content.decode()
    assert "138****5678" in listing
    assert PHONE not in listing
    assert EMAIL not in listing
    assert complaint.petitioner is not None
    detail = client.get(
        reverse("admin:complaints_petitioner_change", args=[complaint.petitioner.pk])
    ).content.decode()
    assert "110101********1234" in detail
    assert ID_NUMBER not in detail
    assert PHONE not in detail


def test_the_admin_shows_the_petitioner_to_administrators(
    complaint: Complaint, admin_user: Any
) -> None:
    listing = (
        client_for(admin_user)
        .get(reverse("admin:complaints_petitioner_changelist"))
        .content.decode()
    )
    assert PHONE in listing


def test_the_complaint_change_page_masks_an_anonymous_petitioner(
    complaint: Complaint, admin_user: Any
) -> None:
    complaint.is_anonymous = True
    complaint.save()
    page = (
        client_for(admin_user)
        .get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
        .content.decode()
    )
    assert "Anonymous · 138****5678" in page
    assert "张伟" not in page


def test_the_complaint_change_page_masks_the_petitioner_without_the_permission(
    complaint: Complaint, staff_auditor: User
) -> None:
    page = (
        client_for(staff_auditor)
        .get(reverse("admin:complaints_complaint_change", args=[complaint.pk]))
        .content.decode()
    )
    assert "张伟 · 幸福小区业委会 · 138****5678 · z******@example.com" in page
    assert PHONE not in page
    assert EMAIL not in page
