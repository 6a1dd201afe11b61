"""The back-office test box classifies a text with the rules and model in force."""

from __future__ import annotations

from typing import Any

from django.test import Client

from routing.models import Category, KeywordRule


def test_the_test_box_shows_names_not_codes(
    admin_user: Any, facilities: Category, settings: Any
) -> None:
    settings.KEYWORD_RECHECK_SECONDS = 0
    KeywordRule.objects.create(phrase="燃气味", category=facilities, weight=1.5)
    KeywordRule.objects.create(phrase="燃气味", priority_effect="critical")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin_user)
    page = client.post("/admin/routing/keywordrule/try/", {"text": "楼道里有很重的燃气味"})
    html = page.content.decode()
    assert '<td id="result-category">Facilities</td>' in html
    assert '<td id="result-priority">Critical</td>' in html
    assert "燃气味 → facilities (1.5)" in html
    assert "燃气味 ⇒ critical" in html
