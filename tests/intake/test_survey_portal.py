"""The portal's part in closing the loop: the survey link, the tracking page, withdrawing."""

from __future__ import annotations

import pytest
from django import forms
from django.core.cache import cache
from django.test import Client
from django.utils import translation

from accounts.models import User
from complaints import services as complaint_services
from complaints import surveys
from complaints.models import Complaint, Survey
from intake import services
from intake.submission import Submission
from notifications.models import Notification
from routing.models import Department
from tests.complaints.loop import link_of, open_survey, reply_to

pytestmark = pytest.mark.django_db
S = Complaint.Status
SATISFIED = {"resolved": "yes", "rating": "5", "comment": "谢谢，修得很快。"}
DISSATISFIED = {"resolved": "no", "rating": "1", "comment": "还是不亮。"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def submitted() -> tuple[Complaint, str]:
    receipt = services.submit(
        Submission(
            channel="web", title="路灯坏了", content="幸福路88号路灯坏了。", phone="13800000000"
        )
    )
    assert receipt.secret is not None
    return receipt.complaint, receipt.secret


def handled_by(complaint: Complaint, department: Department, handler: User) -> None:
    """Hands the complaint to ``handler`` (the dispatch steps are tested elsewhere)."""
    Complaint.objects.filter(pk=complaint.pk).update(
        status=S.IN_PROGRESS, department=department, assignee=handler
    )


def replied(department: Department, handler: User) -> tuple[Complaint, str, Survey]:
    complaint, secret = submitted()
    handled_by(complaint, department, handler)
    reply_to(complaint, handler, body="路灯已于昨日修复。")
    complaint.refresh_from_db()
    return complaint, secret, open_survey(complaint)


def tracking(browser: Client, complaint: Complaint, secret: str) -> str:
    """Proves access with the private link; the tracking page's address."""
    response = browser.get(f"/track/{complaint.tracking_code}/{secret}/")
    assert response.status_code == 302
    return f"/track/{complaint.tracking_code}/"


def fresh(complaint: Complaint) -> Complaint:
    return Complaint.objects.get(pk=complaint.pk)


def required_in_chinese() -> str:
    """The required-field error as the installed catalogues say it (not ours to assert)."""
    with translation.override("zh-hans"):
        text = str(forms.Field.default_error_messages["required"])
    assert text != "This field is required."
    return text


# --- The survey link --------------------------------------------------------------------


class TestSurveyLink:
    def test_the_link_shows_the_reply_and_the_questions(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, _, survey = replied(urban, handler)

        response = browser.get(link_of(survey))

        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        page = response.content.decode()
        assert "路灯已于昨日修复。" in page
        assert complaint.tracking_code in page
        assert "Was your matter resolved?" in page
        assert 'name="rating"' in page
        assert handler.username not in page

    def test_answering_thanks_the_petitioner_and_closes_the_matter(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, _, survey = replied(urban, handler)

        response = browser.post(link_of(survey), SATISFIED)

        assert response.status_code == 200
        page = response.content.decode()
        assert "Thank you for your answer" in page
        assert "The matter is now closed." in page
        assert 'name="rating"' not in page
        survey.refresh_from_db()
        assert (survey.outcome, survey.via, survey.rating) == ("satisfied", "link", 5)
        assert survey.comment == "谢谢，修得很快。"
        assert fresh(complaint).status == S.CLOSED
        answered = fresh(complaint).events.get(kind="survey.answered")
        assert (answered.actor, answered.actor_label) == (None, "petitioner")

    def test_not_satisfied_the_petitioner_hears_it_will_be_looked_at_again(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, _, survey = replied(urban, handler)

        page = browser.post(link_of(survey), DISSATISFIED).content.decode()

        assert "It will be looked at again" in page
        assert fresh(complaint).status == S.REOPENED

    def test_an_incomplete_answer_is_explained_in_place(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, _, survey = replied(urban, handler)

        response = browser.post(link_of(survey), {"resolved": "yes", "comment": "还行"})

        assert response.status_code == 400
        page = response.content.decode()
        assert "Choose a satisfaction rating from 1 to 5." in page
        assert 'name="rating"' in page
        assert "还行</textarea>" in page  # what was typed stays
        survey.refresh_from_db()
        assert survey.is_open
        assert fresh(complaint).status == S.REPLIED

    def test_a_rating_outside_the_scale_is_refused(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        _, _, survey = replied(urban, handler)

        response = browser.post(link_of(survey), {**SATISFIED, "rating": "9"})

        assert response.status_code == 400
        assert "Select a valid choice." in response.content.decode()
        survey.refresh_from_db()
        assert survey.is_open

    def test_an_unknown_link_says_what_to_do_instead(self, browser: Client) -> None:
        response = browser.get("/survey/0123456789abcdef0123456789abcdef/")

        assert response.status_code == 404
        page = response.content.decode()
        assert "This link does not work" in page
        assert "tracking code and secret" in page
        assert 'href="/track/"' in page

    def test_a_second_answer_is_told_the_survey_is_closed(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, _, survey = replied(urban, handler)
        browser.post(link_of(survey), SATISFIED)

        response = browser.post(link_of(survey), DISSATISFIED)

        assert response.status_code == 200
        page = response.content.decode()
        assert "This survey is closed; thank you all the same." in page
        assert 'name="rating"' not in page
        survey.refresh_from_db()
        assert (survey.outcome, survey.rating) == ("satisfied", 5)
        assert fresh(complaint).status == S.CLOSED

    def test_a_second_answer_with_missing_fields_is_not_an_error(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        _, _, survey = replied(urban, handler)
        browser.post(link_of(survey), SATISFIED)

        response = browser.post(link_of(survey), {})

        # Nothing to correct on a closed survey: no form, so no errors either.
        assert response.status_code == 200
        assert "This field is required." not in response.content.decode()
        assert "Choose a satisfaction rating" not in response.content.decode()

    def test_a_survey_closed_without_answer_says_so(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        _, _, survey = replied(urban, handler)
        complaint_services.close_unanswered_surveys(now=survey.closes_at)

        page = browser.get(link_of(survey)).content.decode()

        assert "This survey is closed; thank you all the same." in page
        assert 'name="rating"' not in page
        assert "路灯已于昨日修复。" in page  # the reply can still be read

    def test_the_page_renders_in_chinese(self, urban: Department, handler: User) -> None:
        _, _, survey = replied(urban, handler)
        chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")

        response = chinese.post(link_of(survey), {"resolved": "yes"})

        assert response.status_code == 400
        page = response.content.decode()
        assert '<html lang="zh-hans"' in page
        assert "请选择 1 到 5 的满意度评分。" in page
        assert "路灯已于昨日修复。" in page


# --- The tracking page ------------------------------------------------------------------


class TestTrackingPageSurvey:
    def test_the_tracking_page_asks_while_the_matter_is_replied(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, secret, _ = replied(urban, handler)
        page = browser.get(tracking(browser, complaint, secret))

        assert page.status_code == 200
        html = page.content.decode()
        assert "Tell us how we did" in html
        assert f'action="/track/{complaint.tracking_code}/survey/"' in html
        assert "路灯已于昨日修复。" in html

    def test_an_answer_on_the_tracking_page_closes_the_matter(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, secret, survey = replied(urban, handler)
        address = tracking(browser, complaint, secret)

        response = browser.post(f"{address}survey/", SATISFIED)

        assert response.status_code == 302
        assert response["Location"] == address
        survey.refresh_from_db()
        assert (survey.outcome, survey.via) == ("satisfied", "link")
        assert fresh(complaint).status == S.CLOSED
        html = browser.get(address).content.decode()
        assert "Thank you for your answer" in html
        assert "Tell us how we did" not in html

    def test_an_incomplete_answer_on_the_tracking_page_is_explained(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, secret, survey = replied(urban, handler)
        address = tracking(browser, complaint, secret)

        response = browser.post(f"{address}survey/", {"rating": "4"})

        assert response.status_code == 400
        html = response.content.decode()
        assert "Say whether the matter was resolved." in html
        assert "Tell us how we did" in html
        survey.refresh_from_db()
        assert survey.is_open

    def test_without_access_the_survey_sends_to_the_look_up(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, _, survey = replied(urban, handler)

        response = browser.post(f"/track/{complaint.tracking_code}/survey/", SATISFIED)

        assert response.status_code == 302
        assert response["Location"] == f"/track/?code={complaint.tracking_code}"
        survey.refresh_from_db()
        assert survey.is_open

    def test_once_answered_the_tracking_page_does_not_ask_again(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, secret, survey = replied(urban, handler)
        address = tracking(browser, complaint, secret)
        browser.post(link_of(survey), SATISFIED)

        response = browser.post(f"{address}survey/", DISSATISFIED, follow=True)

        assert "This survey is closed; thank you all the same." in response.content.decode()
        assert fresh(complaint).status == S.CLOSED

    def test_a_survey_closed_while_the_answer_was_typed_says_so(
        self, browser: Client, urban: Department, handler: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        complaint, secret, survey = replied(urban, handler)
        address = tracking(browser, complaint, secret)
        complaint_services.answer_survey(
            survey_id=survey.pk, resolved=True, rating=4, actor=handler
        )
        # The page was read while the survey was still open.
        monkeypatch.setattr(surveys, "current", lambda complaint: survey)

        response = browser.post(f"{address}survey/", DISSATISFIED, follow=True)

        assert response.status_code == 200
        assert "This survey is closed; thank you all the same." in response.content.decode()
        survey.refresh_from_db()
        assert (survey.outcome, survey.via) == ("satisfied", "phone")

    def test_no_survey_form_before_the_reply(self, browser: Client) -> None:
        complaint, secret = submitted()

        html = browser.get(tracking(browser, complaint, secret)).content.decode()

        assert "Tell us how we did" not in html
        assert not surveys.current(complaint)


# --- Withdrawing ------------------------------------------------------------------------


class TestWithdraw:
    def test_the_confirm_box_is_required(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, secret = submitted()
        handled_by(complaint, urban, handler)
        address = tracking(browser, complaint, secret)
        assert "Withdraw this matter" in browser.get(address).content.decode()

        response = browser.post(f"{address}withdraw/", {"reason": "已自行解决"})

        assert response.status_code == 400
        html = response.content.decode()
        assert "This field is required." in html
        assert '<details class="withdraw" id="withdraw" open>' in html
        assert fresh(complaint).status == S.IN_PROGRESS

    def test_the_confirm_box_is_required_in_chinese_too(
        self, urban: Department, handler: User
    ) -> None:
        complaint, secret = submitted()
        chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        address = tracking(chinese, complaint, secret)

        response = chinese.post(f"{address}withdraw/", {"reason": "已自行解决"})

        assert response.status_code == 400
        html = response.content.decode()
        assert '<html lang="zh-hans"' in html
        assert required_in_chinese() in html
        assert fresh(complaint).status == S.RECEIVED

    def test_it_needs_access_to_the_matter(self, browser: Client) -> None:
        complaint, _ = submitted()

        response = browser.post(
            f"/track/{complaint.tracking_code}/withdraw/", {"confirm": "on", "reason": "不要了"}
        )

        assert response.status_code == 302
        assert response["Location"] == f"/track/?code={complaint.tracking_code}"
        assert fresh(complaint).status == S.RECEIVED

    def test_withdrawing_tells_the_handling_department(
        self, browser: Client, urban: Department, handler: User, head: User
    ) -> None:
        complaint, secret = submitted()
        handled_by(complaint, urban, handler)
        address = tracking(browser, complaint, secret)

        response = browser.post(f"{address}withdraw/", {"confirm": "on", "reason": "已自行解决"})

        assert response.status_code == 302
        assert response["Location"] == address
        complaint = fresh(complaint)
        assert complaint.status == S.WITHDRAWN
        assert complaint.closed_at is not None
        event = complaint.events.get(kind="complaint.withdrawn")
        assert (event.actor, event.actor_label, event.payload) == (
            None,
            "petitioner",
            {"reason": "已自行解决"},
        )
        told = Notification.objects.filter(kind="complaint.withdrawn", channel="in_app")
        assert {row.user for row in told} == {head, handler}
        assert all(complaint.tracking_code in row.subject for row in told)
        assert all(row.body == "已自行解决" for row in told)
        html = browser.get(address).content.decode()
        assert "Your matter is withdrawn." in html
        assert "Withdraw this matter" not in html

    def test_a_matter_without_a_department_is_withdrawn_quietly(self, browser: Client) -> None:
        complaint, secret = submitted()
        address = tracking(browser, complaint, secret)

        browser.post(f"{address}withdraw/", {"confirm": "on"})

        assert fresh(complaint).status == S.WITHDRAWN
        assert not Notification.objects.filter(kind="complaint.withdrawn").exists()

    def test_a_finished_matter_cannot_be_withdrawn_and_says_why(
        self, browser: Client, urban: Department, handler: User
    ) -> None:
        complaint, secret, _ = replied(urban, handler)
        address = tracking(browser, complaint, secret)
        assert "Withdraw this matter" not in browser.get(address).content.decode()

        response = browser.post(f"{address}withdraw/", {"confirm": "on"}, follow=True)

        assert response.status_code == 200
        assert "it cannot be withdrawn" in response.content.decode()
        assert fresh(complaint).status == S.REPLIED
        assert not fresh(complaint).events.filter(kind="complaint.withdrawn").exists()
