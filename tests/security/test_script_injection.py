"""Script injection: user text is stored as sent and shown only as text — in the console,
the back-office, the portal, e-mail and PDFs — and the Content-Security-Policy stops an
inline script even if some page ever failed to escape it (issue 11, item 4).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape
from pypdf import PdfReader

from accounts.models import User
from complaints import documents, rights, services
from complaints.models import Complaint, Reply
from notifications import delivery
from routing.models import Category, Department
from tests.api.conftest import Api
from tests.e2e.conftest import (  # noqa: F401  (the browser fixtures of tests/e2e)
    _orm_beside_playwright,
    _plain_http_live_server,
    chromium,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
LINK = '<a href="javascript:alert(1)">x</a>'
TEMPLATE = "{{7*7}}"
JS_URL = "javascript:alert(1)"
# Every field gets all of them, with its own name so a page shows which text it carries.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def hostile(field: str) -> str:
    return f"{field}{SCRIPT}{IMG}{SVG}{LINK}{TEMPLATE}"


SHORT = f"{SCRIPT}{IMG}{TEMPLATE}"  # for fields of 100 characters at most


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def assert_inert(html: str, where: str) -> None:
    """Nothing of the payloads became markup: no script running alert, no event handler,
    no svg/img of ours, no javascript: link."""
    parser = _Tags()
    parser.feed(html)
    for tag, attributes in parser.found:
        assert not (tag in ("img", "svg") and attributes.get("src") == "x"), (where, tag)
        assert tag != "svg" or "onload" not in attributes, where
        for name, value in attributes.items():
            assert not (name.startswith("on") and "alert" in value), (where, tag, name)
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith("javascript:"), (where, tag)
    assert not any("alert(1)" in text for text in parser.script_text), where
    assert SCRIPT not in html, where
    assert "<svg onload" not in html, where


def assert_shown_as_text(html: str, text: str, where: str) -> None:
    assert escape(text) in html, (where, text)


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.API_RATE_CLIENT = settings.API_RATE_STAFF = settings.API_RATE_ANONYMOUS = 0
    cache.clear()


def logged_in(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


PORTAL_FIELDS = {
    "title": hostile("title")[:200],
    "content": hostile("content"),
    "location": hostile("location"),
    "organisation": hostile("organisation"),
    "address": hostile("address"),
    "name": SHORT,
}
ATTACHMENT_NAME = '"><img src=x onerror=alert(1)>.png'


@pytest.fixture
def submitted_on_the_portal() -> tuple[Complaint, Client]:
    portal = Client(HTTP_ACCEPT_LANGUAGE="en")
    form = {
        "kind": "complaint",
        "petitioner_type": "organisation",
        "phone": "13812345678",
        "email": "zhangwei@example.cn",
        "privacy_consent": "on",
        "attachments": [SimpleUploadedFile(ATTACHMENT_NAME, PNG, content_type="image/png")],
        **PORTAL_FIELDS,
    }
    response = portal.post("/submit/", form, follow=True)
    assert response.status_code == 200
    return Complaint.objects.get(), portal


def test_the_portal_stores_every_field_exactly_as_sent(
    submitted_on_the_portal: tuple[Complaint, Client],
) -> None:
    complaint, _portal = submitted_on_the_portal
    person = complaint.petitioner
    assert person is not None

    stored = {
        "title": complaint.title,
        "content": complaint.content,
        "location": complaint.location,
        "organisation": person.organisation,
        "address": person.address,
        "name": person.name,
    }
    assert stored == PORTAL_FIELDS
    # File names are the one exception: made safe to store and to offer as a download.
    stored_name = complaint.attachments.get().original_name
    assert stored_name.endswith(".png")
    assert not set('<>"') & set(stored_name), stored_name


def test_the_intake_api_stores_them_as_sent_too() -> None:
    api = Api()
    api.as_client()
    body = {
        "title": hostile("title"),
        "content": hostile("content"),
        "location": JS_URL,
        "petitioner": {
            "name": SHORT,
            "organisation": hostile("organisation"),
            "address": hostile("address"),
            "phone": "13812345678",
        },
    }

    response = api.post("/api/v1/intake/", body, format="json", HTTP_IDEMPOTENCY_KEY="xss-1")

    assert response.status_code == 201, response.content
    complaint = Complaint.objects.get()
    assert (complaint.title, complaint.content, complaint.location) == (
        hostile("title"),
        hostile("content"),
        JS_URL,
    )
    assert complaint.petitioner is not None
    assert complaint.petitioner.organisation == hostile("organisation")
    assert "&lt;" not in response.content.decode()  # JSON carries text, not HTML


@pytest.fixture
def worked_on(
    submitted_on_the_portal: tuple[Complaint, Client],
    supervisor: User,
    handler: User,
    urban: Department,
    facilities: Category,
) -> Complaint:
    """The portal's complaint, with staff text written on it and hostile admin names."""
    complaint, _portal = submitted_on_the_portal
    # Names set by administrators in the back-office.
    Department.objects.filter(pk=urban.pk).update(name_en=f"d{SCRIPT}{IMG}{SVG}", name_zh=SHORT)
    Category.objects.filter(pk=facilities.pk).update(name_en=f"c{SCRIPT}{IMG}{SVG}", name_zh=SHORT)
    Complaint.objects.filter(pk=complaint.pk).update(
        status="in_progress", department=urban, assignee=handler, category=facilities
    )
    services.add_note(complaint_id=complaint.pk, body=hostile("note"), actor=handler)
    return Complaint.objects.get(pk=complaint.pk)


def test_console_pages_show_every_text_escaped(worked_on: Complaint, supervisor: User) -> None:
    staff = logged_in(supervisor)
    pages = {
        "complaint page": staff.get(f"/console/complaints/{worked_on.pk}/"),
        "reveal": staff.post(f"/console/complaints/{worked_on.pk}/reveal/", {"reason": "回访"}),
        "queue": staff.get("/console/queue/", {"q": "all"}),
        "search": staff.get("/console/queue/", {"q": "all", "text": "script"}),
    }
    for where, response in pages.items():
        assert response.status_code == 200, where
        assert_inert(response.content.decode(), where)
    page = pages["complaint page"].content.decode()
    for text in (PORTAL_FIELDS["title"], PORTAL_FIELDS["content"], hostile("note")):
        assert_shown_as_text(page, text, "complaint page")
    assert TEMPLATE in page  # shown literally, never evaluated
    assert_shown_as_text(pages["reveal"].content.decode(), PORTAL_FIELDS["address"], "reveal")
    # The queue shortens long titles: their beginning, escaped.
    assert_shown_as_text(pages["queue"].content.decode(), PORTAL_FIELDS["title"][:20], "queue")


def test_the_back_office_shows_every_text_escaped(worked_on: Complaint, admin_user: User) -> None:
    admin = logged_in(admin_user)
    assert worked_on.petitioner_id is not None
    urls = [
        "/admin/complaints/complaint/",
        f"/admin/complaints/complaint/{worked_on.pk}/change/",
        f"/admin/complaints/petitioner/{worked_on.petitioner_id}/change/",
        "/admin/complaints/petitioner/",
        "/admin/routing/department/",
        "/admin/routing/category/",
    ]
    for url in urls:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_inert(response.content.decode(), url)


def test_the_tracking_page_shows_the_title_and_the_reply_escaped(
    handler: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    from intake import services as intake
    from intake.submission import Submission

    receipt = intake.submit(
        Submission(channel="web", title=hostile("title"), content="x", phone="13812345678")
    )
    complaint = receipt.complaint
    portal = Client(HTTP_ACCEPT_LANGUAGE="en")
    portal.get(f"/track/{complaint.tracking_code}/{receipt.secret}/")
    Complaint.objects.filter(pk=complaint.pk).update(
        status="in_progress", department=urban, assignee=handler
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_reply(complaint_id=complaint.pk, body=hostile("reply"), actor=handler)
        services.send_reply(complaint_id=complaint.pk, actor=handler)

    page = portal.get(f"/track/{complaint.tracking_code}/").content.decode()

    assert_inert(page, "tracking page")
    assert_shown_as_text(page, hostile("title"), "tracking page")
    assert_shown_as_text(page, hostile("reply"), "tracking page")


def test_outgoing_mail_is_plain_text_that_carries_the_text_as_written(
    handler: User, urban: Department, django_capture_on_commit_callbacks: Any
) -> None:
    from intake import services as intake
    from intake.submission import Submission

    receipt = intake.submit(
        Submission(channel="web", title=hostile("title"), content="x", email="zhangwei@example.cn")
    )
    complaint = receipt.complaint
    Complaint.objects.filter(pk=complaint.pk).update(
        status="in_progress", department=urban, assignee=handler
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.draft_reply(complaint_id=complaint.pk, body=hostile("reply"), actor=handler)
        services.send_reply(complaint_id=complaint.pk, actor=handler, delivery="email")
    delivery.deliver_due()

    [message] = [m for m in mail.outbox if "zhangwei@example.cn" in m.to]
    assert getattr(message, "alternatives", []) == []  # no HTML part to run anything in
    assert message.content_subtype == "plain"
    assert message.message().get_content_type() == "text/plain"
    assert hostile("reply") in message.body  # the text, as written: plain text shows it
    assert hostile("title")[:40] in message.subject


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    pages = PdfReader(BytesIO(pdf)).pages
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in pages))


def test_pdfs_print_the_text_as_written(urban: Department) -> None:
    from tests.factories import PetitionerFactory, complaint_in

    person = PetitionerFactory(name=SHORT, address=hostile("address"))
    complaint = complaint_in("replied", petitioner=person, title=hostile("title"), department=urban)
    reply = Reply.objects.create(complaint=complaint, body=hostile("reply"))

    letter = pdf_text(documents.reply_letter_pdf(complaint, reply))
    copy = pdf_text(rights.export_pdf(rights.export_complaint(complaint)))

    for text in (hostile("title"), hostile("reply"), hostile("address")):
        assert re.sub(r"\s+", "", text) in letter, text
    for text in (hostile("title"), SHORT):
        assert re.sub(r"\s+", "", text) in copy, text


# --- In a real browser: the policy blocks what escaping would have let through ----------

INJECTED = (
    '<script>window.__injected = "script"</script>'
    '<img src="/static/none.png" onerror="window.__injected = \'handler\'">'
    '<a id="js-link" href="javascript:window.__injected=\'link\'">x</a>'
)


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Any:
    """Debian's Chromium, from the browser fixtures of tests/e2e (skipped without it)."""
    return request.getfixturevalue("chromium")


def csp_reports(page: Any) -> list[str]:
    """Collects the page's messages about refused content (Chromium logs each one)."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    return found


def inject(page: Any, url: str, *, keep_policy: bool) -> None:
    """Serve ``url`` as Sutong answers it, with ``INJECTED`` added to its HTML — as if a
    template had failed to escape a stored text — and the real headers (or none of the CSP)."""

    def handle(route: Any) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        if not keep_policy:
            headers.pop("content-security-policy", None)
        body = response.text().replace("</main>", INJECTED + "</main>")
        route.fulfill(response=response, body=body, headers=headers)

    page.route(url, handle)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_unescaped_inline_script_would_not_run_under_the_policy(
    live_server: Any, browser: Any
) -> None:
    url = f"{live_server.url}/privacy/"
    context = browser.new_context()
    page = context.new_page()
    reports = csp_reports(page)
    inject(page, url, keep_policy=True)

    page.goto(url)
    page.click("#js-link")
    page.wait_for_timeout(300)

    assert page.evaluate("window.__injected") is None
    assert len(reports) >= 3, reports  # the script, the handler and the link, each refused

    # The same page without the policy: the injection runs — so the policy is what stopped it.
    unprotected = context.new_page()
    inject(unprotected, url, keep_policy=False)
    unprotected.goto(url)
    assert unprotected.evaluate("window.__injected") in ("script", "handler")
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_stored_payload_stays_text_in_the_browser(
    live_server: Any, browser: Any, supervisor: User, urban: Department
) -> None:
    from tests.factories import complaint_in

    complaint = complaint_in(
        "assigned", department=urban, title=f'<img src=x onerror="window.__stored=1">{SCRIPT}'
    )
    services.add_note(
        complaint_id=complaint.pk, body="<script>window.__stored=2</script>", actor=supervisor
    )
    page = browser.new_context(locale="en-US").new_page()
    reports = csp_reports(page)
    log_in(page, live_server.url, "supervisor")

    page.goto(f"{live_server.url}/console/complaints/{complaint.pk}/")

    assert page.evaluate("window.__stored") is None
    assert "<script>window.__stored=2</script>" in page.inner_text("main")
    assert reports == []  # escaped: nothing even reached the policy


def log_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("main button[type=submit]")
    assert "/console/login/" not in page.url, f"{username} could not log in"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_portal_console_admin_and_api_docs_work_with_no_policy_violation(
    live_server: Any, browser: Any, supervisor: User, admin_user: User, urban: Department
) -> None:
    from tests.factories import complaint_in

    complaint = complaint_in("assigned", department=urban, title="井盖丢失")
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    reports = csp_reports(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    base = live_server.url

    for path in ("/", "/submit/", "/track/", "/privacy/"):
        page.goto(base + path)
    # The language switcher, now a static script, still submits on change.
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    assert page.get_attribute("html", "lang") == "en"

    log_in(page, base, "supervisor")
    for path in (
        "/console/",
        "/console/queue/",
        f"/console/complaints/{complaint.pk}/",
        "/reports/",
    ):
        page.goto(base + path)
        assert page.evaluate("typeof window.htmx") == "object", path  # the console's script ran
    page.goto(f"{base}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)

    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    for path in (
        "/admin/",
        "/admin/complaints/complaint/",
        f"/admin/complaints/complaint/{complaint.pk}/change/",
        "/admin/routing/category/add/",
    ):
        page.goto(base + path)
        assert page.title(), path
    page.click("#nav-sidebar .toggle-nav-sidebar, #toggle-nav-sidebar")  # admin's own script

    assert reports == []
    assert errors == []
    context.close()
