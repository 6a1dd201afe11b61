"""The petitioner's data from the tracking page: only with access, one complaint, no cache."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from complaints.models import Complaint, DataRequest
from intake import services
from intake.submission import Submission

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def submitted(**fields: Any) -> tuple[Complaint, str]:
    values = {
        "channel": "web",
        "title": "路灯坏了",
        "content": "幸福路88号门口的路灯坏了两周。",
        "name": "张伟",
        "phone": "13812345678",
        **fields,
    }
    receipt = services.submit(Submission(**values))
    assert receipt.secret is not None
    return receipt.complaint, receipt.secret


def opened(complaint: Complaint, secret: str) -> Client:
    """A browser that proved access with the private link."""
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.get(f"/track/{complaint.tracking_code}/{secret}/")
    return browser


@pytest.fixture
def mine() -> tuple[Complaint, str]:
    return submitted()


class TestWithoutAccess:
    @pytest.mark.parametrize("suffix", ["data/", "data/copy.json", "data/copy.pdf"])
    def test_the_visitor_is_sent_to_look_the_matter_up(
        self, mine: tuple[Complaint, str], suffix: str
    ) -> None:
        complaint, _secret = mine
        response = Client().get(f"/track/{complaint.tracking_code}/{suffix}")
        assert response.status_code == 302
        assert response["Location"] == f"/track/?code={complaint.tracking_code}"
        assert not complaint.events.filter(kind="personal_data.exported").exists()

    def test_no_erasure_request_without_access(self, mine: tuple[Complaint, str]) -> None:
        complaint, _secret = mine
        response = Client().post(f"/track/{complaint.tracking_code}/data/erase/", {"confirm": "on"})
        assert response.status_code == 302
        assert not DataRequest.objects.exists()

    def test_access_to_one_matter_is_not_access_to_another(
        self, mine: tuple[Complaint, str]
    ) -> None:
        other, _other_secret = submitted(title="噪音扰民")
        browser = opened(*mine)
        response = browser.get(f"/track/{other.tracking_code}/data/copy.json")
        assert response.status_code == 302


class TestCopy:
    def test_the_page_offers_the_copy_and_erasure(self, mine: tuple[Complaint, str]) -> None:
        browser = opened(*mine)
        response = browser.get(f"/track/{mine[0].tracking_code}/data/")
        page = response.content.decode()
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert f"/track/{mine[0].tracking_code}/data/copy.pdf" in page
        assert 'name="confirm"' in page

    def test_the_copy_is_this_matter_only_and_not_kept(self, mine: tuple[Complaint, str]) -> None:
        complaint, secret = mine
        submitted(title="噪音扰民")  # the same person's other matter
        browser = opened(complaint, secret)
        response = browser.get(f"/track/{complaint.tracking_code}/data/copy.json")
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert response["Content-Disposition"] == (
            f'attachment; filename="{complaint.tracking_code}.json"'
        )
        data = json.loads(response.content)
        assert [c["tracking_code"] for c in data["complaints"]] == [complaint.tracking_code]
        assert data["complaints"][0]["content"] == "幸福路88号门口的路灯坏了两周。"
        assert data["petitioner"]["phone"] == "13812345678"
        event = complaint.events.get(kind="personal_data.exported")
        assert (event.actor, event.actor_label) == (None, "petitioner")

    def test_the_copy_as_pdf(self, mine: tuple[Complaint, str]) -> None:
        browser = opened(*mine)
        response = browser.get(f"/track/{mine[0].tracking_code}/data/copy.pdf")
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")

    def test_an_unknown_format_is_not_found(self, mine: tuple[Complaint, str]) -> None:
        browser = opened(*mine)
        assert browser.get(f"/track/{mine[0].tracking_code}/data/copy.csv").status_code == 404


class TestErasureRequest:
    def test_the_request_needs_the_confirmation(self, mine: tuple[Complaint, str]) -> None:
        browser = opened(*mine)
        response = browser.post(f"/track/{mine[0].tracking_code}/data/erase/", {})
        assert response.status_code == 400
        assert not DataRequest.objects.exists()

    def test_a_confirmed_request_waits_for_staff(self, mine: tuple[Complaint, str]) -> None:
        complaint, secret = mine
        browser = opened(complaint, secret)
        response = browser.post(
            f"/track/{complaint.tracking_code}/data/erase/",
            {"confirm": "on", "note": "不再需要联系我"},
            follow=True,
        )
        request = DataRequest.objects.get()
        assert (request.kind, request.status, request.note) == ("erasure", "open", "不再需要联系我")
        assert complaint.tracking_code in request.verified_by
        assert request.received_by is None
        event = complaint.events.get(kind="data_request.received")
        assert event.actor_label == "petitioner"
        page = response.content.decode()
        assert "We have received your request." in page
        assert request.get_status_display() in page

    def test_asking_twice_keeps_one_request(self, mine: tuple[Complaint, str]) -> None:
        browser = opened(*mine)
        url = f"/track/{mine[0].tracking_code}/data/erase/"
        browser.post(url, {"confirm": "on"})
        response = browser.post(url, {"confirm": "on"}, follow=True)
        assert DataRequest.objects.count() == 1
        assert "already received" in response.content.decode()

    def test_a_matter_without_contact_details_has_nothing_to_erase(self) -> None:
        complaint, secret = submitted(name="", phone="", anonymous=True)
        assert complaint.petitioner is None
        browser = opened(complaint, secret)
        page = browser.get(f"/track/{complaint.tracking_code}/data/").content.decode()
        assert 'name="confirm"' not in page
        response = browser.post(
            f"/track/{complaint.tracking_code}/data/erase/", {"confirm": "on"}, follow=True
        )
        assert not DataRequest.objects.exists()
        assert response.status_code == 200
