"""Who am I, categories and departments, petitioner look-up and key figures."""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any, cast

import pytest
from django.utils import timezone

from accounts.models import AccessToken, AuditEntry, User
from complaints.models import Complaint, Petitioner
from reporting import rollups
from reporting.kpis import Kpis
from routing.models import Category, Department
from tests.api.conftest import Api
from tests.factories import PetitionerFactory, complaint_in
from tests.reporting.data import at, complaint

pytestmark = pytest.mark.django_db


# --- /me/ -------------------------------------------------------------------------------


class TestMe:
    def test_a_staff_token_tells_who_they_are_and_what_they_may_do(
        self, api: Api, handler: User
    ) -> None:
        token = api.as_staff(handler, scope=AccessToken.Scope.READ)
        body = api.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en").json()
        assert body["kind"] == "staff"
        assert body["username"] == "handler"
        assert body["department"] == {
            "code": "urban_management",
            "name": "Urban Management Bureau",
        }
        assert body["roles"] == [{"code": "handler", "name": "Handler"}]
        assert {"view", "accept", "reply", "view_personal_data"} <= set(body["permissions"])
        assert "assign" not in body["permissions"]
        assert body["token"] == {
            "name": token.name,
            "scope": "read",
            "token_hint": token.token_hint,
            "expires_at": None,
        }

    def test_a_session_uses_no_token(self, api: Api, auditor: User) -> None:
        api.as_session(auditor)
        body = api.get("/api/v1/me/").json()
        assert body["token"] is None
        assert body["department"] is None
        assert sorted(body["permissions"]) == ["access_all_departments", "view", "view_audit_log"]

    def test_a_channel_client_sees_its_scopes_expiry_and_rate_limit(self, api: Api) -> None:
        expires = timezone.now() + timedelta(days=30)
        client = api.as_client(scopes=["intake", "read_own"], channel="wechat", expires_at=expires)
        client.rate_limit = 30
        client.save()
        body = api.get("/api/v1/me/").json()
        assert body["kind"] == "channel"
        assert body["name"] == client.name
        assert body["channel"] == "wechat"
        assert body["scopes"] == ["intake", "read_own"]
        assert body["rate_limit"] == 30
        assert body["token_hint"] == client.token_hint
        assert datetime.fromisoformat(body["expires_at"]) == expires

    def test_a_channel_without_a_limit_of_its_own_has_the_default(
        self, api: Api, settings: Any
    ) -> None:
        settings.API_RATE_CLIENT = 120
        api.as_client(scopes=[])
        assert api.get("/api/v1/me/").json()["rate_limit"] == 120

    def test_nobody_is_nobody(self, api: Api) -> None:
        assert api.get("/api/v1/me/").status_code == 401


# --- Categories and departments ---------------------------------------------------------


@pytest.fixture
def categories(urban: Department, facilities: Category) -> list[Category]:
    lights = Category.objects.create(
        code="street_lights", name_zh="路灯", name_en="Street lights", parent=facilities
    )
    old = Category.objects.create(
        code="old_topic", name_zh="旧分类", name_en="Old topic", is_active=False
    )
    return [facilities, lights, old]


class TestReferenceData:
    def test_a_channel_lists_the_categories_in_use_in_its_language(
        self, api: Api, categories: list[Category]
    ) -> None:
        api.as_client(scopes=[])
        english = api.get("/api/v1/categories/", HTTP_ACCEPT_LANGUAGE="en").json()
        assert english == [
            {
                "code": "facilities",
                "name": "Facilities",
                "description": "",
                "parent": None,
                "default_department": {
                    "code": "urban_management",
                    "name": "Urban Management Bureau",
                },
                "active": True,
            },
            {
                "code": "street_lights",
                "name": "Street lights",
                "description": "",
                "parent": "facilities",
                "default_department": None,
                "active": True,
            },
        ]
        chinese = api.get("/api/v1/categories/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
        assert [c["name"] for c in chinese] == ["设施设备", "路灯"]

    def test_staff_may_include_those_no_longer_in_use(
        self, api: Api, categories: list[Category], clerk: User
    ) -> None:
        api.as_staff(clerk, scope=AccessToken.Scope.READ)
        found = api.get("/api/v1/categories/", {"include_inactive": "true"}).json()
        assert [(c["code"], c["active"]) for c in found] == [
            ("facilities", True),
            ("old_topic", False),
            ("street_lights", True),
        ]

    def test_a_channel_may_not_include_those_no_longer_in_use(
        self, api: Api, categories: list[Category]
    ) -> None:
        api.as_client(scopes=["intake"])
        response = api.get("/api/v1/categories/", {"include_inactive": "true"})
        assert response.status_code == 403
        response = api.get("/api/v1/departments/", {"include_inactive": "true"})
        assert response.status_code == 403

    def test_departments_with_their_parent(
        self, api: Api, urban: Department, market: Department, handler: User
    ) -> None:
        Department.objects.create(
            code="lighting", name_zh="路灯所", name_en="Lighting Office", parent=urban
        )
        Department.objects.create(code="closed", name_zh="撤销", name_en="Closed", is_active=False)
        api.as_staff(handler)
        body = api.get("/api/v1/departments/", HTTP_ACCEPT_LANGUAGE="en").json()
        assert [(d["code"], d["name"], d["parent"], d["active"]) for d in body] == [
            ("lighting", "Lighting Office", "urban_management", True),
            ("market_regulation", "Market Regulation Bureau", None, True),
            ("urban_management", "Urban Management Bureau", None, True),
        ]
        with_closed = api.get("/api/v1/departments/", {"include_inactive": "1"}).json()
        assert "closed" in [d["code"] for d in with_closed]

    def test_reference_data_needs_credentials(self, api: Api) -> None:
        assert api.get("/api/v1/categories/").status_code == 401
        assert api.get("/api/v1/departments/").status_code == 401

    def test_a_bad_flag_is_a_400(self, api: Api, handler: User) -> None:
        api.as_staff(handler)
        response = api.get("/api/v1/categories/", {"include_inactive": "perhaps"})
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "include_inactive"


# --- Petitioners ------------------------------------------------------------------------

PHONE = "13812345678"
EMAIL = "zhangwei@example.com"
ID_NUMBER = "110101199003071234"


@pytest.fixture
def zhang(db: None) -> Petitioner:
    return cast(
        Petitioner,
        PetitionerFactory(
            name="张伟",
            phone=PHONE,
            email=EMAIL,
            id_number=ID_NUMBER,
            address="幸福路88号3栋2单元501",
        ),
    )


def in_urban(urban: Department, handler: User, petitioner: Petitioner, **fields: Any) -> Complaint:
    return complaint_in(
        "in_progress", department=urban, assignee=handler, petitioner=petitioner, **fields
    )


def search(api: Api, q: str, **params: str) -> Any:
    return api.get("/api/v1/petitioners/", {"q": q, **params}, HTTP_ACCEPT_LANGUAGE="en")


class TestPetitionerLookup:
    def test_by_name_answers_the_petitioner_masked_as_on_the_complaint_page(
        self, api: Api, auditor: User, urban: Department, handler: User, zhang: Petitioner
    ) -> None:
        first = in_urban(urban, handler, zhang)
        second = in_urban(urban, handler, zhang)
        api.as_staff(auditor)
        response = search(api, "张伟")
        assert response.status_code == 200
        [match] = response.json()["results"]
        assert match["id"] == zhang.pk
        assert match["complaint_count"] == 2
        assert match["latest_complaint"] in (first.pk, second.pk)
        assert match["petitioner"] == {
            "name": "张伟",
            "type": "Individual",
            "organisation": "",
            "phone": "138****5678",
            "email": "z******@example.com",
            "id_number": "110101********1234",
            "address": "幸福路88号…",
            "anonymous": False,
            "masked": True,
            "can_reveal": False,  # an auditor does not hold view_personal_data
        }
        assert PHONE not in response.content.decode()

    def test_by_phone_needs_the_permission_to_see_personal_data(
        self, api: Api, auditor: User, urban: Department, handler: User, zhang: Petitioner
    ) -> None:
        in_urban(urban, handler, zhang)
        api.as_staff(auditor)
        for query in (PHONE, EMAIL, ID_NUMBER):
            response = search(api, query)
            assert response.status_code == 403, query
            assert response.json()["code"] == "permission_denied"
            assert "personal data" in response.json()["message"]
        assert search(api, "13812345678", by="name").json()["results"] == []

    def test_by_phone_email_or_id_number_for_those_who_may_and_it_is_logged(
        self,
        api: Api,
        handler: User,
        urban: Department,
        zhang: Petitioner,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        in_urban(urban, handler, zhang)
        token = api.as_staff(handler)
        caplog.set_level(logging.INFO, logger="api.petitioners")
        for query, field in (
            ("+86 138-1234-5678", "phone"),
            ("ZhangWei@Example.com", "email"),
            ("110101199003071234", "id_number"),
        ):
            AuditEntry.objects.all().delete()
            [match] = search(api, query).json()["results"]
            assert match["id"] == zhang.pk
            assert match["petitioner"]["phone"] == "138****5678"
            assert match["petitioner"]["can_reveal"] is True
            # An audit entry (accounts.audit): who, with which token, by which kind of value.
            [entry] = AuditEntry.objects.filter(action="personal_data.searched")
            assert entry.actor == handler
            assert entry.detail == {
                "field": field,
                "via": "api",
                "token": f"accesstoken:{token.pk}",
            }
            written = f"{entry.target} {entry.detail}"
            assert "1234" not in written
            assert "zhangwei" not in written.lower()

    def test_a_search_by_name_is_not_logged(
        self,
        api: Api,
        handler: User,
        urban: Department,
        zhang: Petitioner,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        in_urban(urban, handler, zhang)
        api.as_staff(handler)
        caplog.set_level(logging.INFO, logger="api.petitioners")
        assert len(search(api, "张伟").json()["results"]) == 1
        assert not AuditEntry.objects.filter(action="personal_data.searched").exists()

    def test_only_petitioners_within_reach_are_found(
        self,
        api: Api,
        market_handler: User,
        handler: User,
        urban: Department,
        zhang: Petitioner,
    ) -> None:
        in_urban(urban, handler, zhang)
        api.as_staff(market_handler)
        assert search(api, "张伟").json()["results"] == []
        assert search(api, PHONE).json()["results"] == []
        assert api.get(f"/api/v1/petitioners/{zhang.pk}/").status_code == 404

    def test_a_petitioner_who_stays_anonymous_is_not_found_by_name(
        self, api: Api, clerk: User, urban: Department, handler: User, zhang: Petitioner
    ) -> None:
        in_urban(urban, handler, zhang, is_anonymous=True)
        api.as_staff(clerk)
        assert search(api, "张伟").json()["results"] == []
        # By phone, for whoever may see personal data: as privacy.petitioner_view shows them.
        [match] = search(api, PHONE).json()["results"]
        assert match["petitioner"]["name"] == "Anonymous"
        assert match["petitioner"]["anonymous"] is True
        assert match["petitioner"]["id_number"] == ""
        assert match["petitioner"]["address"] == ""
        assert match["petitioner"]["phone"] == "138****5678"

    def test_a_look_up_never_ties_an_anonymous_complaint_to_a_name(
        self, api: Api, clerk: User, urban: Department, handler: User, zhang: Petitioner
    ) -> None:
        named = in_urban(urban, handler, zhang)
        in_urban(urban, handler, zhang, is_anonymous=True)
        api.as_staff(clerk)
        [match] = search(api, PHONE).json()["results"]
        assert match["petitioner"]["name"] == "张伟"
        assert match["complaint_count"] == 1
        detail = api.get(f"/api/v1/petitioners/{zhang.pk}/").json()
        assert [c["id"] for c in detail["complaints"]] == [named.pk]

    def test_the_petitioner_page_lists_their_complaints_within_reach(
        self,
        api: Api,
        handler: User,
        urban: Department,
        market: Department,
        zhang: Petitioner,
    ) -> None:
        older = in_urban(urban, handler, zhang, received_at=timezone.now() - timedelta(days=3))
        newer = in_urban(urban, handler, zhang)
        complaint_in("in_progress", department=market, petitioner=zhang)  # out of reach
        api.as_staff(handler)
        response = api.get(f"/api/v1/petitioners/{zhang.pk}/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == zhang.pk
        assert body["complaint_count"] == 2
        assert [c["tracking_code"] for c in body["complaints"]] == [
            newer.tracking_code,
            older.tracking_code,
        ]
        assert body["petitioner"]["email"] == "z******@example.com"
        assert EMAIL not in response.content.decode()

    def test_an_unknown_petitioner_is_404(self, api: Api, supervisor: User) -> None:
        api.as_staff(supervisor)
        assert api.get("/api/v1/petitioners/999999/").status_code == 404

    def test_channels_may_not_look_up_petitioners(self, api: Api, zhang: Petitioner) -> None:
        api.as_client()
        assert search(api, "张伟").status_code == 403
        assert api.get(f"/api/v1/petitioners/{zhang.pk}/").status_code == 403

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"q": "张"}, "q"), ({}, "q"), ({"q": "not-an-address", "by": "email"}, "q")],
    )
    def test_a_query_that_cannot_be_searched_is_a_400(
        self, api: Api, supervisor: User, params: dict[str, str], field: str
    ) -> None:
        api.as_staff(supervisor)
        response = api.get("/api/v1/petitioners/", params)
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == [field]

    def test_organisations_are_found_by_their_name(
        self, api: Api, dispatcher: User, urban: Department, handler: User
    ) -> None:
        company = cast(
            Petitioner, PetitionerFactory(name="", organisation="幸福物业公司", type="organisation")
        )
        in_urban(urban, handler, company)
        api.as_staff(dispatcher)
        [match] = search(api, "物业").json()["results"]
        assert match["petitioner"]["organisation"] == "幸福物业公司"


# --- Key figures ------------------------------------------------------------------------


@pytest.fixture
def march(urban: Department, market: Department) -> None:
    """Two complaints of urban management and one of market regulation, in March 2026."""
    complaint(at("2026-03-02"), department=urban)
    complaint(at("2026-03-10"), department=urban)
    complaint(at("2026-03-05"), department=market)
    complaint(at("2026-04-02"), department=urban)  # another month
    rollups.rebuild(date(2026, 1, 1))


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


class TestKpis:
    def test_figures_of_a_period_for_every_department(
        self, api: Api, supervisor: User, march: None
    ) -> None:
        api.as_staff(supervisor, scope=AccessToken.Scope.READ)
        response = api.get("/api/v1/kpis/", MARCH)
        assert response.status_code == 200
        body = response.json()
        assert body["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
        assert body["scope"]["department"] is None
        figures = body["figures"]
        assert figures["volume"] == 3
        # Nothing answered or replied: "no data", not zero.
        assert figures["satisfaction_rate"] is None
        assert figures["resolution_median_seconds"] is None
        assert figures["reopen_rate"] is None

    def test_every_figure_of_the_reports_is_answered(
        self, api: Api, supervisor: User, march: None
    ) -> None:
        api.as_staff(supervisor)
        figures = api.get("/api/v1/kpis/", MARCH).json()["figures"]
        expected = {
            f"{f.name}_seconds" if f.name.endswith(("_median", "_p90")) else f.name
            for f in fields(Kpis)
        }
        assert set(figures) == expected

    def test_a_scope_by_department_and_channel(
        self, api: Api, auditor: User, urban: Department, march: None
    ) -> None:
        api.as_staff(auditor)
        body = api.get(
            "/api/v1/kpis/", {**MARCH, "department": "urban_management"}, HTTP_ACCEPT_LANGUAGE="en"
        ).json()
        assert body["figures"]["volume"] == 2
        assert body["scope"]["department"] == {
            "code": "urban_management",
            "name": "Urban Management Bureau",
        }
        by_channel = api.get("/api/v1/kpis/", {**MARCH, "channel": "hotline"}).json()
        assert by_channel["figures"]["volume"] == 0
        assert by_channel["scope"]["channel"] == "hotline"

    def test_a_department_head_reads_their_own_department_only(
        self, api: Api, head: User, march: None
    ) -> None:
        api.as_staff(head)
        own = api.get("/api/v1/kpis/", MARCH).json()
        assert own["scope"]["department"]["code"] == "urban_management"
        assert own["figures"]["volume"] == 2
        asked = api.get("/api/v1/kpis/", {**MARCH, "department": "urban_management"})
        assert asked.json()["figures"]["volume"] == 2
        other = api.get("/api/v1/kpis/", {**MARCH, "department": "market_regulation"})
        assert other.status_code == 403
        assert other.json()["code"] == "permission_denied"

    @pytest.mark.parametrize("persona", ["handler", "market_handler"])
    def test_those_who_read_no_reports_read_no_figures(
        self, api: Api, persona: str, request: pytest.FixtureRequest
    ) -> None:
        api.as_staff(request.getfixturevalue(persona))
        assert api.get("/api/v1/kpis/").status_code == 403

    def test_channels_read_no_figures(self, api: Api) -> None:
        api.as_client()
        assert api.get("/api/v1/kpis/").status_code == 403

    def test_by_default_this_month(self, api: Api, dispatcher: User) -> None:
        api.as_staff(dispatcher)
        body = api.get("/api/v1/kpis/").json()
        assert body["period"]["from"] == timezone.localdate().replace(day=1).isoformat()
        assert body["period"]["to"] == timezone.localdate().isoformat()
        assert body["figures"]["volume"] == 0

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2026-03-01"},
            {"from": "2026-03-31", "to": "2026-03-01"},
            {"from": "2020-01-01", "to": "2026-03-01"},
            {"from": "yesterday", "to": "2026-03-01"},
            {**MARCH, "department": "no_such_department"},
            {**MARCH, "channel": "pigeon"},
        ],
    )
    def test_a_period_or_scope_that_cannot_be_read_is_a_400(
        self, api: Api, supervisor: User, params: dict[str, str]
    ) -> None:
        api.as_staff(supervisor)
        response = api.get("/api/v1/kpis/", params)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
