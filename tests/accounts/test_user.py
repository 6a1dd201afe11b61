"""Staff users: names as people write them, and the language Sutong writes to them in."""

from __future__ import annotations

from django.test import override_settings

from accounts.models import User


def test_chinese_names_read_family_name_first_without_a_space() -> None:
    assert User(first_name="承办", last_name="张").get_full_name() == "张承办"


def test_other_names_read_given_name_first() -> None:
    assert User(first_name="Ada", last_name="Lovelace").get_full_name() == "Ada Lovelace"


@override_settings(LANGUAGE_CODE="zh-hans")
def test_the_preferred_language_falls_back_to_the_sites() -> None:
    assert User().preferred_language == "zh-hans"
    assert User(language="en").preferred_language == "en"
