"""htmx in the console: the vendored script, and the fragments the list pages answer with.

Each list page is a whole document for a browser, and only its list (``#queue-view``) for a
request htmx sends, which swaps it in place; a history restore gets the whole page again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from complaints import services
from complaints.models import Complaint
from routing.models import Category, Department

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}
HTMX = {**EN, "HX-Request": "true"}
VENDORED = Path(settings.BASE_DIR) / "static" / "vendor" / "htmx"


@pytest.fixture
def assigned(dispatcher: User, facilities: Category, urban: Department, handler: User) -> Complaint:
    complaint = services.submit_complaint(
        title="井盖缺失", content="人民路与解放路口的井盖丢了。", channel="web"
    ).complaint
    services.classify(
        complaint_id=complaint.pk, category=facilities, priority="urgent", actor=dispatcher
    )
    return services.assign(
        complaint_id=complaint.pk, department=urban, assignee=handler, actor=dispatcher
    )


def test_htmx_is_vendored_with_its_licence_and_loaded_from_our_static_files(
    handler: User, client: Client
) -> None:
    script = (VENDORED / "htmx.min.js").read_text()
    assert 'version:"2.0.' in script
    assert "Zero-Clause BSD" in (VENDORED / "LICENSE").read_text()
    client.force_login(handler)

    html = client.get("/console/queue/", headers=EN).content.decode()

    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in html
    assert html.index("vendor/htmx/htmx.min.js") < html.index("js/console.js")
    head = html.split("<body")[0]
    assert "http://" not in head
    assert "https://" not in head  # nothing from a CDN
    assert '<meta name="htmx-config"' in html
    assert '"historyCacheSize": 0' in html  # no console pages kept in the browser's storage
    assert '{"code": "422", "swap": true}' in html


def test_htmx_sends_the_csrf_token_in_a_header_and_it_is_accepted(
    assigned: Complaint, handler: User
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(handler)
    html = client.get(f"/console/complaints/{assigned.pk}/", headers=EN).content.decode()
    found = re.search(r"<body [^>]*hx-headers='\{\"X-CSRFToken\": \"(\w+)\"\}'", html)
    assert found is not None
    url = f"/console/complaints/{assigned.pk}/do/note/"
    note = {"version": assigned.version, "note-body": "只带请求头的令牌。"}

    assert client.post(url, note, headers=HTMX).status_code == 403
    assert client.post(url, note, headers={**HTMX, "X-CSRFToken": found[1]}).status_code == 200
    assert assigned.events.filter(kind="complaint.note_added").count() == 1


def test_a_queue_answers_htmx_with_its_list_only(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    whole = client.get("/console/queue/", {"priority": "urgent"}, headers=EN)
    part = client.get("/console/queue/", {"priority": "urgent"}, headers=HTMX)

    assert whole.status_code == part.status_code == 200
    assert "<html" in whole.content.decode()
    html = part.content.decode()
    assert "<html" not in html
    assert "<title>Mine · Queues · 诉通</title>" in html  # htmx sets the tab's title from it
    assert '<div id="queue-view" hx-target="this"' in html
    assert assigned.tracking_code in html
    assert 'name="query" value="priority=urgent&amp;q=mine"' in html  # saving: this view
    for response in (whole, part):
        assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(handler: User, client: Client) -> None:
    client.force_login(handler)

    response = client.get("/console/queue/", headers={**HTMX, "HX-History-Restore-Request": "true"})

    assert "<html" in response.content.decode()


def test_the_queue_filters_and_pager_are_sent_by_htmx_and_still_plain_links_and_forms(
    assigned: Complaint,
    dispatcher: User,
    urban: Department,
    handler: User,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from complaints import queues

    other = services.submit_complaint(title="路灯", content="路灯坏了。", channel="web").complaint
    services.classify(
        complaint_id=other.pk, category=assigned.category, priority="normal", actor=dispatcher
    )
    services.assign(complaint_id=other.pk, department=urban, assignee=handler, actor=dispatcher)
    page_after = queues.page_after  # one a page: two complaints make a next page
    monkeypatch.setattr(queues, "page_after", lambda *args: page_after(*args, size=1))
    client.force_login(handler)

    html = client.get("/console/queue/", headers=EN).content.decode()

    assert '<form method="get" action="/console/queue/" hx-get="/console/queue/"' in html
    assert 'hx-push-url="true"' in html
    next_link = html.split('rel="next"')[0].rsplit("<a ", 1)[1]
    assert next_link.startswith('href="?q=mine&amp;after=')
    assert 'hx-get="?q=mine&amp;after=' in next_link


def test_the_inbox_and_the_deadlines_answer_htmx_with_their_list_only(
    assigned: Complaint, dispatcher: User, handler: User, client: Client
) -> None:
    waiting = services.submit_complaint(title="噪音", content="夜间施工。", channel="web").complaint

    client.force_login(dispatcher)
    inbox = client.get("/console/inbox/", headers=HTMX).content.decode()
    assert "<html" not in inbox
    assert inbox.count('id="queue-view"') == 1
    assert waiting.tracking_code in inbox

    client.force_login(handler)
    whole = client.get("/console/deadlines/", headers=EN).content.decode()
    part = client.get("/console/deadlines/", headers=HTMX).content.decode()
    assert "<html" in whole
    assert "<html" not in part
    assert part.lstrip().startswith('<div id="queue-view"')
    assert 'class="deadlines stackable"' in whole


def test_list_cells_carry_their_column_label_for_phones(
    assigned: Complaint, handler: User, client: Client
) -> None:
    client.force_login(handler)

    html = client.get("/console/queue/", headers=EN).content.decode()

    assert 'class="deadlines queue stackable"' in html
    for label in ("Complaint", "Status", "Priority", "Category", "Department", "Due"):
        assert f'data-label="{label}"' in html
