"""The complaint page: what it shows, what it lets each role do, and what it refuses."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import User
from complaints import services
from complaints.models import Complaint
from routing.models import Category, Department
from sla.models import Deadline, Stage

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}


@pytest.fixture
def assigned(dispatcher: User, facilities: Category, urban: Department, handler: User) -> Complaint:
    complaint = services.submit_complaint(
        title="井盖缺失",
        content="人民路与解放路口的井盖丢了。",
        channel="web",
        petitioner=services.PetitionerDetails(name="王芳", phone="13900001111"),
        attachments=[SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)],
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="urgent", actor=dispatcher
    )
    return services.assign(
        complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
    )


def page_of(client: Client, complaint: Complaint) -> str:
    response = client.get(f"/console/complaints/{complaint.pk}/", headers=EN)
    assert response.status_code == 200
    return response.content.decode()


def act(client: Client, complaint: Complaint, action: str, **data: object) -> Any:
    complaint.refresh_from_db()
    return client.post(
        f"/console/complaints/{complaint.pk}/do/{action}/",
        {"version": complaint.version, **data},
        headers=EN,
    )


def test_the_page_shows_the_matter_its_limits_and_only_the_allowed_actions(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    html = page_of(client, assigned)

    assert "人民路与解放路口的井盖丢了" in html
    assert "Start handling" in html  # the accept limit (2 h for urgent)
    assert 'class="clock ok"' in html
    assert "photo.png" in html
    assert ">Accept</button>" in html
    assert ">Classify</button>" not in html  # not this user's, nor this state's
    assert "no-cache" in client.get(f"/console/complaints/{assigned.pk}/")["Cache-Control"]


def test_out_of_reach_is_not_found_and_anonymous_goes_to_login(
    assigned: Complaint, market_handler: User, client: Client
) -> None:
    assert client.get(f"/console/complaints/{assigned.pk}/")["Location"].startswith(
        "/console/login/"
    )
    client.force_login(market_handler)
    assert client.get(f"/console/complaints/{assigned.pk}/").status_code == 404
    assert client.post(f"/console/complaints/{assigned.pk}/do/accept/").status_code == 404


def test_a_handler_accepts_plans_drafts_and_after_approval_replies(
    assigned: Complaint, handler: User, head: User, client: Client
) -> None:
    client.force_login(handler)
    act(client, assigned, "accept")
    act(client, assigned, "plan", **{"plan-plan": "今天下午补装井盖。"})
    act(client, assigned, "draft", **{"draft-body": "井盖已补装，感谢监督。"})
    refused = act(client, assigned, "reply")  # urgent: the head must approve first
    assert refused.status_code == 302
    assigned.refresh_from_db()
    assert assigned.status == Complaint.Status.IN_PROGRESS

    client.force_login(head)
    assert "Approve this reply" in page_of(client, assigned)
    act(client, assigned, "approve")
    client.force_login(handler)
    act(client, assigned, "reply")

    assigned.refresh_from_db()
    assert assigned.status == Complaint.Status.REPLIED
    kinds = list(assigned.events.values_list("kind", flat=True))
    for kind in (
        "complaint.accepted",
        "complaint.plan_recorded",
        "reply.drafted",
        "reply.approved",
        "complaint.replied",
    ):
        assert kind in kinds
    assert Deadline.objects.get(complaint=assigned, stage=Stage.PLAN).state == "met"


def test_a_form_with_errors_comes_back_with_them(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    response = act(client, assigned, "transfer", **{"transfer-reason": ""})

    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html
    assert "<details open>" in html


def test_a_stale_page_gets_a_conflict(assigned: Complaint, handler: User, client: Client) -> None:
    client.force_login(handler)
    stale = assigned.version
    services.add_note(complaint_id=assigned.pk, body="x", actor=handler)  # no version bump
    services.accept(complaint_id=assigned.pk, actor=handler)

    response = client.post(
        f"/console/complaints/{assigned.pk}/do/transfer/",
        {"version": stale, "transfer-department": assigned.department_id, "transfer-reason": "x"},
        follow=True,
        headers=EN,
    )

    assert "changed by someone else" in response.content.decode()


def test_notes_and_contacts_go_on_the_timeline(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)
    act(client, assigned, "note", **{"note-body": "需要协调市政公司。"})
    act(client, assigned, "contact", **{"contact-note": "已电话告知诉求人今天处理。"})

    html = page_of(client, assigned)

    assert "需要协调市政公司。" in html
    assert "已电话告知诉求人今天处理。" in html
    assert "Petitioner contacted" in html
    # Facts read as names, not codes.
    assert "Category: Facilities" in html
    assert "Priority: Urgent" in html
    assert "Department: Urban Management Bureau" in html


def test_escalations_name_the_stage(assigned: Complaint, handler: User, client: Client) -> None:
    from sla.sweep import sweep

    sweep(now=timezone.now() + timedelta(hours=3))  # accept (2 h, urgent) has passed
    client.force_login(handler)

    html = page_of(client, assigned)
    assert "Stage: Start handling" in html
    assert "the system" in html  # who escalated, in words


def test_co_handling_is_asked_for_and_reported_by_the_other_department(
    assigned: Complaint, handler: User, market: Department, market_handler: User, client: Client
) -> None:
    client.force_login(handler)
    due = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    act(
        client,
        assigned,
        "cohandle",
        **{
            "cohandle-department": market.pk,
            "cohandle-task": "查处附近商户",
            "cohandle-due_at": due,
        },
    )
    task = assigned.co_handling.get()

    client.force_login(market_handler)  # reaches the complaint while its task is open
    assert "查处附近商户" in page_of(client, assigned)
    act(client, assigned, "cohandled", **{"cohandled-task": task.pk, "cohandled-result": "已约谈"})

    task.refresh_from_db()
    assert task.status == "done"
    assert client.get(f"/console/complaints/{assigned.pk}/").status_code == 404  # done: gone


def test_attachments_download_only_within_reach(
    assigned: Complaint, handler: User, market_handler: User, client: Client
) -> None:
    file = assigned.attachments.get()
    client.force_login(handler)
    response = client.get(f"/console/attachments/{file.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"

    client.force_login(market_handler)
    assert client.get(f"/console/attachments/{file.pk}/").status_code == 404


def test_an_unknown_action_is_not_found(assigned: Complaint, handler: User, client: Client) -> None:
    client.force_login(handler)
    assert client.post(f"/console/complaints/{assigned.pk}/do/explode/").status_code == 404


def test_the_console_switches_language(handler: User, client: Client) -> None:
    client.force_login(handler)
    assert "language-select" in client.get("/console/").content.decode()

    client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})

    assert "Staff console" in client.get("/console/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/"})
    assert "工作台" in client.get("/console/").content.decode()


def test_a_reply_starts_from_a_template_of_the_category(
    assigned: Complaint, handler: User, facilities: Category, client: Client
) -> None:
    from complaints.models import ReplyTemplate

    mine = ReplyTemplate.objects.create(
        name="设施已修复",
        category=facilities,
        body="您好，您于{received}反映的“{title}”（{code}）已由{department}处理完毕。{unknown}",
    )
    ReplyTemplate.objects.create(
        name="别的类别",
        category=Category.objects.create(code="other", name_zh="其他", name_en="Other"),
        body="x",
    )
    services.accept(complaint_id=assigned.pk, actor=handler)
    client.force_login(handler)

    html = client.get(f"/console/complaints/{assigned.pk}/?template={mine.pk}").content.decode()

    assert "设施已修复" in html
    assert "别的类别" not in html
    assert f"（{assigned.tracking_code}）已由城市管理局处理完毕。{{unknown}}" in html


def test_reply_templates_are_kept_in_the_back_office(admin_user: User, client: Client) -> None:
    client.force_login(admin_user)
    assert client.get("/admin/complaints/replytemplate/").status_code == 200
    assert client.get("/admin/complaints/replytemplate/add/").status_code == 200


def test_more_time_is_offered_only_where_it_can_be_asked(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)
    html = page_of(client, assigned)
    accept = Deadline.objects.get(complaint=assigned, stage=Stage.ACCEPT)
    assert f"/console/deadlines/{accept.pk}/extend/" in html  # start handling: yes

    services.accept(complaint_id=assigned.pk, actor=handler)
    services.draft_reply(complaint_id=assigned.pk, body="好", actor=handler)
    Complaint.objects.filter(pk=assigned.pk).update(priority="normal")  # no approval needed
    services.send_reply(complaint_id=assigned.pk, actor=handler)
    follow_up = Deadline.objects.get(complaint=assigned, stage=Stage.FOLLOW_UP)
    assert f"/console/deadlines/{follow_up.pk}/extend/" not in page_of(client, assigned)


# --- Side forms sent by htmx ------------------------------------------------------------

HTMX = {**EN, "HX-Request": "true"}


def act_htmx(client: Client, complaint: Complaint, action: str, version: int, **data: str) -> Any:
    return client.post(
        f"/console/complaints/{complaint.pk}/do/{action}/",
        {"version": version, **data},
        headers=HTMX,
    )


def oob_version(html: str) -> str:
    """The version the answer gives every ``version`` field of the page (out of band)."""
    match = re.search(
        r'<input type="hidden" name="version" value="(\d+)" '
        r'hx-swap-oob="outerHTML:input\[name=version\]">',
        html,
    )
    assert match is not None, "no out-of-band version in the answer"
    return match.group(1)


def test_a_note_sent_by_htmx_is_answered_with_the_fragment_in_place(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    response = act_htmx(client, assigned, "note", assigned.version, **{"note-body": "需要协调。"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section class="panel side-form" id="side-note">')
    assert 'hx-post="/console/complaints/' in html  # the section comes back able to send again
    assert "Note added." in html
    assert 'name="note-body"' in html
    assert "需要协调。</textarea>" not in html  # the form comes back empty
    assert '<section class="panel" id="timeline" hx-swap-oob="true">' in html
    assert "需要协调。" in html  # on the swapped timeline
    assert '<section class="panel" id="clocks" hx-swap-oob="true">' in html
    assert '<div id="messages" hx-swap-oob="innerHTML">' in html
    assert oob_version(html) == str(assigned.version)  # a note leaves the version as it was
    assert assigned.events.filter(kind="complaint.note_added").count() == 1


def test_a_note_without_htmx_still_redirects_to_the_page(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    response = act(client, assigned, "note", **{"note-body": "需要协调。"})

    assert response.status_code == 302
    assert response["Location"] == f"/console/complaints/{assigned.pk}/"
    assert "Note added." in client.get(response["Location"], headers=EN).content.decode()


def test_an_empty_note_sent_by_htmx_comes_back_in_place_with_its_error(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    response = act_htmx(client, assigned, "note", assigned.version, **{"note-body": ""})

    assert response.status_code == 422  # htmx is configured to swap it
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="side-note"' in html
    assert "This field is required." in html
    assert "hx-swap-oob" in html  # only the messages: nothing else on the page changed
    assert 'id="timeline"' not in html
    assert "outerHTML:input" not in html
    assert assigned.events.filter(kind="complaint.note_added").count() == 0


def test_a_plan_sent_by_htmx_moves_the_page_to_the_new_version(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)
    seen = assigned.version

    response = act_htmx(client, assigned, "plan", seen, **{"plan-plan": "今天下午补装井盖。"})

    assert response.status_code == 200
    assigned.refresh_from_db()
    assert assigned.version == seen + 1  # recording a plan moves the version on
    html = response.content.decode()
    assert oob_version(html) == str(assigned.version)
    assert f'name="version" value="{assigned.version}"' in html.split("</section>")[0]
    assert "Handling plan recorded." in html
    # The page's next action, sent with the version it now carries, goes through.
    accepted = client.post(
        f"/console/complaints/{assigned.pk}/do/accept/",
        {"version": oob_version(html)},
        headers=EN,
        follow=True,
    )
    assert "Accept: done." in accepted.content.decode()
    assigned.refresh_from_db()
    assert assigned.status == Complaint.Status.IN_PROGRESS


def test_a_stale_page_keeps_its_version_after_an_in_place_note(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)
    stale = assigned.version  # then the same handler records a plan in another tab
    services.record_plan(complaint_id=assigned.pk, plan="在另一个窗口制定。", actor=handler)

    response = act_htmx(client, assigned, "note", stale, **{"note-body": "我也看看。"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "was changed by someone else meanwhile" in html
    assert oob_version(html) == str(stale)  # not blessed: the conflict stays honest
    refused = client.post(
        f"/console/complaints/{assigned.pk}/do/accept/",
        {"version": oob_version(html)},
        headers=EN,
        follow=True,
    )
    assert "changed by someone else" in refused.content.decode()
    assigned.refresh_from_db()
    assert assigned.status == Complaint.Status.ASSIGNED


def test_an_in_place_note_without_a_version_leaves_the_pages_versions_alone(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    response = client.post(
        f"/console/complaints/{assigned.pk}/do/note/", {"note-body": "无版本。"}, headers=HTMX
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Note added." in html
    assert "outerHTML:input[name=version]" not in html  # unknown: nothing to vouch for
    assert "changed by someone else" not in html


def test_a_refused_in_place_entry_reloads_the_page_with_the_reason(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)
    seen = assigned.version
    services.accept(complaint_id=assigned.pk, actor=handler)
    services.draft_reply(complaint_id=assigned.pk, body="好", actor=handler)
    Complaint.objects.filter(pk=assigned.pk).update(priority="normal")  # no approval needed
    services.send_reply(complaint_id=assigned.pk, actor=handler)  # replied: no more plans

    response = act_htmx(client, assigned, "plan", seen, **{"plan-plan": "晚了。"})

    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/console/complaints/{assigned.pk}/"
    page = client.get(response["HX-Redirect"], headers=EN).content.decode()
    assert "Replied" in page
    assert not assigned.events.filter(kind="complaint.plan_recorded").exists()


def test_state_actions_stay_whole_page_posts(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)
    html = page_of(client, assigned)

    for name in ("note", "contact", "plan"):
        assert f'hx-post="/console/complaints/{assigned.pk}/do/{name}/"' in html
    assert f'hx-post="/console/complaints/{assigned.pk}/do/accept/"' not in html
    assert f'hx-post="/console/complaints/{assigned.pk}/do/cohandle/"' not in html
    # Sent by htmx all the same (a script of one's own), the answer is a page load.
    response = client.post(
        f"/console/complaints/{assigned.pk}/do/accept/",
        {"version": assigned.version},
        headers=HTMX,
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/console/complaints/{assigned.pk}/"


def test_the_reply_panel_follows_delivery_and_records_a_phone_survey(
    assigned: Complaint, handler: User, head: User, client: Client
) -> None:
    from notifications.models import Notification

    services.accept(complaint_id=assigned.pk, actor=handler)
    client.force_login(handler)
    drafted = act(client, assigned, "draft", **{"draft-body": "井盖已补装。"})
    assert drafted.status_code == 302
    client.force_login(head)
    assert "Waiting for the department head&#x27;s approval" in page_of(client, assigned)
    assert act(client, assigned, "approve").status_code == 302

    client.force_login(handler)
    html = page_of(client, assigned)
    # Registered on the web with a phone: a text message is offered first and chosen.
    assert re.search(r'value="sms"[^>]*checked', html)
    assert 'value="email"' not in html  # no address to write to
    assert act(client, assigned, "reply", **{"reply-delivery": "sms"}).status_code == 302
    assert "being sent" in page_of(client, assigned)

    Notification.objects.filter(complaint=assigned, kind="reply.sent").update(
        status=Notification.Status.FAILED, last_error="gateway said no"
    )
    html = page_of(client, assigned)
    assert "delivery failed" in html
    assert 'title="gateway said no"' in html

    answered = act(
        client,
        assigned,
        "survey",
        **{"survey-resolved": "yes", "survey-rating": "4", "survey-comment": "电话回访满意"},
    )
    assert answered.status_code == 302
    assigned.refresh_from_db()
    assert (assigned.status, assigned.close_reason) == ("closed", "survey")
    survey = assigned.surveys.get()
    assert (survey.via, survey.entered_by, survey.rating) == ("phone", handler, 4)
    html = page_of(client, assigned)
    assert "by phone, entered by staff" in html
    assert "电话回访满意" in html


def test_the_reply_letter_is_a_pdf_and_printing_it_is_logged(
    dispatcher: User,
    facilities: Category,
    urban: Department,
    handler: User,
    client: Client,
    market_handler: User,
) -> None:
    complaint = services.submit_complaint(
        title="来信反映噪音",
        content="夜间施工噪音扰民。",
        channel="letter",
        petitioner=services.PetitionerDetails(name="李娜", address="幸福路1号"),
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher)
    services.accept(complaint_id=complaint.pk, actor=handler)
    services.draft_reply(complaint_id=complaint.pk, body="已责令停止夜间施工。", actor=handler)
    services.send_reply(complaint_id=complaint.pk, actor=handler)
    reply = complaint.replies.get()
    assert reply.delivery == "letter"
    url = f"/console/complaints/{complaint.pk}/replies/{reply.pk}/letter.pdf"

    client.force_login(handler)
    assert url in page_of(client, complaint)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Cache-Control"] == "private, no-store"
    viewed = complaint.events.filter(kind="personal_data.viewed").get()
    assert viewed.actor == handler

    client.force_login(market_handler)
    assert client.get(url).status_code == 404
