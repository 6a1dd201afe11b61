"""Staff users: names as people write them, and the language Sutong writes to them in."""

from __future__ import annotations

from django.test import Client, override_settings

from accounts.models import User


def test_chinese_names_read_family_name_first_without_a_space() -> None:
    assert User(first_name="承办", last_name="张").get_full_name() == "张承办"


def test_other_names_read_given_name_first() -> None:
    assert User(first_name="Ada", last_name="Lovelace").get_full_name() == "Ada Lovelace"


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_preferred_language_falls_back_to_the_sites() -> None:
    assert User().preferred_language == "zh-hans"
    assert User(language="en").preferred_language == "en"


def test_the_back_office_edits_department_phone_language_and_away(
    admin_user: User, handler: User, client: Client
) -> None:
    client.force_login(admin_user)

    page = client.get(f"/admin/accounts/user/{handler.pk}/change/").content.decode()

    for field in ("department", "phone", "language", "is_away"):
        assert f'name="{field}"' in page
    assert client.get("/admin/accounts/user/?q=handler").status_code == 200
