"""A citizen submits on a phone and follows the matter; a clerk registers a call."""

from __future__ import annotations

import re
from typing import Any

import pytest

from complaints.models import Complaint
from intake import services
from intake.submission import Submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_a_citizen_submits_on_a_phone_and_follows_the_matter(phone: Any, live_server: Any) -> None:
    phone.goto(f"{live_server.url}/")
    phone.click("a.card.primary")
    phone.click("button.big")  # empty: the server explains, in Chinese
    assert phone.locator(".errorbox").is_visible()
    assert "隐私" in phone.locator("#field-privacy_consent").inner_text()

    phone.fill("#id_title", "小区门口路灯损坏")
    phone.fill("#id_content", "幸福路88号南门外的路灯坏了两周。<script>alert(1)</script>")
    phone.fill("#id_name", "张伟")
    phone.fill("#id_phone", "138 1234 5678")
    phone.set_input_files(
        "#id_attachments", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": PNG}]
    )
    phone.check("#id_privacy_consent")
    phone.click("button.big")

    code = phone.locator("#tracking-code").inner_text()
    secret = phone.locator("#secret").inner_text()
    complaint = Complaint.objects.get(tracking_code=code)
    assert complaint.attachments.count() == 1
    assert complaint.petitioner is not None
    assert complaint.petitioner.phone == "13812345678"

    phone.click("a.button")
    assert phone.locator("h1").inner_text() == "小区门口路灯损坏"
    assert "<script>alert(1)</script>" in phone.locator(".tracked").inner_text()  # shown, not run

    # Later, on another device: look it up with code and secret.
    page = phone.context.browser.new_page(locale="zh-CN")
    page.goto(f"{live_server.url}/track/")
    page.fill("#id_code", code.lower())
    page.fill("#id_secret", secret)
    page.click("form.stacked button")
    assert re.search(rf"/track/{code}/$", page.url)
    page.close()


def test_a_petitioner_answers_a_question_with_a_file(phone: Any, live_server: Any) -> None:
    receipt = services.submit(Submission(channel="web", content="", phone="13800000000"))
    phone.goto(f"{live_server.url}/track/{receipt.complaint.tracking_code}/{receipt.secret}/")
    assert phone.locator("#question").is_visible()
    phone.fill("#id_text", "路灯在南门。")
    phone.set_input_files(
        "#id_attachments", files=[{"name": "南门.png", "mimeType": "image/png", "buffer": PNG}]
    )
    phone.click("#question button")
    assert not phone.locator("#question").count()
    complaint = Complaint.objects.get()
    assert complaint.status == "received"
    assert complaint.attachments.get().original_name == "南门.png"


def test_a_clerk_registers_a_call_and_sees_the_callers_history(
    desktop: Any, live_server: Any, clerk: Any
) -> None:
    earlier = services.submit(
        Submission(channel="web", title="井盖丢失", content="x", phone="18600001111")
    ).complaint
    desktop.goto(f"{live_server.url}/console/login/")
    desktop.fill("#id_username", "clerk")
    desktop.fill("#id_password", "pw")
    desktop.click("button[type=submit]")
    desktop.goto(f"{live_server.url}/console/register/")
    desktop.fill("#lookup-phone", "186 0000 1111")
    desktop.click("aside.lookup button")
    assert earlier.tracking_code in desktop.locator(".earlier").inner_text()

    desktop.fill("#id_phone", "186 0000 1111")
    desktop.fill("#id_name", "刘强")
    desktop.fill("#id_title", "夜间施工噪音")
    desktop.fill("#id_content", "工地每晚十一点后打桩。")
    desktop.click("button.big")
    code = desktop.locator("#tracking-code").inner_text()
    complaint = Complaint.objects.get(tracking_code=code)
    assert complaint.channel == "hotline"
    # Received, and the caller's name completed on their record (they had given none).
    assert {(event.kind, event.actor) for event in complaint.events.all()} == {
        ("complaint.received", clerk),
        ("petitioner.updated", clerk),
    }
