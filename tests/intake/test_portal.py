"""The citizen portal: submit, confirmation, tracking, supplements, rate limits."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from complaints import services as complaint_services
from complaints.models import Complaint
from intake import services
from intake.submission import Submission

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FORM = {
    "kind": "complaint",
    "petitioner_type": "individual",
    "name": "张伟",
    "phone": "13812345678",
    "title": "路灯坏了",
    "content": "幸福路88号门口的路灯坏了两周。",
    "privacy_consent": "on",
}


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def test_home_offers_submitting_and_tracking(browser: Client) -> None:
    page = browser.get("/").content.decode()
    assert 'href="/submit/"' in page
    assert 'action="/track/"' in page


def test_submitting_shows_the_code_and_private_link_once(browser: Client) -> None:
    response = browser.post("/submit/", FORM, follow=True)
    page = response.content.decode()
    complaint = Complaint.objects.get()
    assert complaint.tracking_code in page
    link = re.search(r'id="private-link" href="([^"]+)"', page)
    assert link is not None
    assert complaint.channel == "web"
    assert complaint.privacy_consent_at is not None
    # Shown once: the confirmation does not come back.
    assert browser.get("/submit/done/").status_code == 302


def test_the_private_link_opens_the_matter_and_drops_the_secret(browser: Client) -> None:
    browser.post("/submit/", FORM, follow=True)
    complaint = Complaint.objects.get()
    fresh = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = browser.get("/submit/done/")  # already consumed
    assert page.status_code == 302
    receipt = services.submit(Submission(channel="web", content="x", phone="13800000000"))
    response = fresh.get(f"/track/{receipt.complaint.tracking_code}/{receipt.secret}/")
    assert response.status_code == 302
    assert response["Location"] == f"/track/{receipt.complaint.tracking_code}/"
    assert fresh.get(response["Location"]).status_code == 200
    # Another visitor without the secret is sent to the look-up form.
    assert Client().get(f"/track/{complaint.tracking_code}/").status_code == 302


def test_invalid_input_is_explained_in_the_visitors_language() -> None:
    form = {**FORM, "phone": "", "email": "", "privacy_consent": ""}
    english = Client(HTTP_ACCEPT_LANGUAGE="en").post("/submit/", form)
    assert english.status_code == 400
    text = english.content.decode()
    assert "Give a phone number or an e-mail address" in text
    assert "Please accept the privacy notice" in text
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").post("/submit/", form)
    assert "隐私" in chinese.content.decode()
    assert not Complaint.objects.exists()


def test_files_are_attached_and_forbidden_ones_explained(
    browser: Client, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    bad = browser.post(
        "/submit/",
        {**FORM, "attachments": [SimpleUploadedFile("x.html", b"<html><script></script></html>")]},
    )
    assert bad.status_code == 400
    assert "x.html" in bad.content.decode()
    assert not Complaint.objects.exists()
    good = browser.post(
        "/submit/",
        {
            **FORM,
            "attachments": [
                SimpleUploadedFile("a.png", PNG),
                SimpleUploadedFile("b.pdf", b"%PDF-1.4"),
            ],
        },
    )
    assert good.status_code == 302
    assert Complaint.objects.get().attachments.count() == 2


def test_anonymous_needs_no_contact(browser: Client) -> None:
    form = {**FORM, "phone": "", "name": "", "anonymous": "on"}
    assert browser.post("/submit/", form).status_code == 302
    assert Complaint.objects.get().is_anonymous


def test_script_is_shown_escaped(browser: Client) -> None:
    form = {**FORM, "title": "<script>alert(1)</script>", "content": "<img src=x onerror=alert(1)>"}
    browser.post("/submit/", form, follow=True)
    code = Complaint.objects.get().tracking_code
    page = browser.get(f"/track/{code}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


class TestTracking:
    def submitted(self) -> tuple[Complaint, str]:
        receipt = services.submit(
            Submission(channel="web", content="路灯坏了", phone="13800000000")
        )
        assert receipt.secret is not None
        return receipt.complaint, receipt.secret

    def test_code_and_secret_open_the_matter(self, browser: Client) -> None:
        complaint, secret = self.submitted()
        response = browser.post(
            "/track/", {"code": complaint.tracking_code.lower(), "secret": secret}, follow=True
        )
        assert response.status_code == 200
        assert "路灯坏了" in response.content.decode()

    def test_wrong_code_and_wrong_secret_get_the_same_answer(self, browser: Client) -> None:
        complaint, _ = self.submitted()
        wrong_secret = browser.post(
            "/track/", {"code": complaint.tracking_code, "secret": "AAAA-BBBB-CCCC"}
        )
        wrong_code = browser.post(
            "/track/", {"code": "TS-2026-ZZZZZZZZ", "secret": "AAAA-BBBB-CCCC"}
        )
        assert wrong_secret.status_code == wrong_code.status_code == 404

        def message(response: Any) -> str:
            return (
                re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
                .replace(complaint.tracking_code, "X")
                .replace("TS-2026-ZZZZZZZZ", "X")
            )

        assert message(wrong_secret) == message(wrong_code)

    def test_lookups_are_rate_limited_per_visitor(self, browser: Client) -> None:
        complaint, secret = self.submitted()
        for _ in range(20):
            browser.post("/track/", {"code": "TS-2026-ZZZZZZZZ", "secret": "AAAA-BBBB-CCCC"})
        # Even the right secret is refused until the window passes.
        blocked = browser.post("/track/", {"code": complaint.tracking_code, "secret": secret})
        assert blocked.status_code == 429

    def test_guessing_one_codes_secret_is_limited_across_visitors(self) -> None:
        complaint, secret = self.submitted()
        for n in range(10):
            Client(REMOTE_ADDR=f"10.0.0.{n}").post(
                "/track/", {"code": complaint.tracking_code, "secret": f"AAAA-BBBB-CCC{n}"}
            )
        response = Client(REMOTE_ADDR="10.0.1.1").post(
            "/track/", {"code": complaint.tracking_code, "secret": secret}
        )
        assert response.status_code == 429

    def test_the_timeline_shows_the_reply_but_not_internal_notes(
        self, browser: Client, handler: Any, urban: Any
    ) -> None:
        complaint, secret = self.submitted()
        Complaint.objects.filter(pk=complaint.pk).update(department=urban, assignee=handler)
        for step in ("classified", "assigned", "in_progress"):
            Complaint.objects.filter(pk=complaint.pk).update(status=step)
        complaint_services.add_note(
            complaint_id=complaint.pk, body="内部：此人多次投诉", actor=handler
        )
        complaint_services.draft_reply(
            complaint_id=complaint.pk, body="路灯已修复。", actor=handler
        )
        complaint_services.send_reply(complaint_id=complaint.pk, actor=handler)
        browser.get(f"/track/{complaint.tracking_code}/{secret}/")
        page = browser.get(f"/track/{complaint.tracking_code}/").content.decode()
        assert "路灯已修复。" in page
        assert "多次投诉" not in page
        assert handler.username not in page

    def test_a_petitioner_answers_a_question_with_text_and_files(
        self, browser: Client, settings: Any, tmp_path: Any
    ) -> None:
        settings.MEDIA_ROOT = tmp_path
        receipt = services.submit(Submission(channel="web", content="", phone="13800000000"))
        code = receipt.complaint.tracking_code
        browser.get(f"/track/{code}/{receipt.secret}/")
        page = browser.get(f"/track/{code}/").content.decode()
        assert "We need more information" in page
        response = browser.post(
            f"/track/{code}/",
            {"text": "路灯在南门。", "attachments": [SimpleUploadedFile("p.png", PNG)]},
            follow=True,
        )
        assert response.status_code == 200
        complaint = Complaint.objects.get()
        assert complaint.status == "received"
        assert complaint.attachments.count() == 1
        assert "We need more information" not in response.content.decode()

    def test_no_supplement_when_nothing_was_asked(self, browser: Client) -> None:
        complaint, secret = self.submitted()
        browser.get(f"/track/{complaint.tracking_code}/{secret}/")
        browser.post(f"/track/{complaint.tracking_code}/", {"text": "补充"})
        assert not complaint.events.filter(kind="complaint.supplemented").exists()
