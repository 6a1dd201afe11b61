"""Response headers: a nonce-based CSP everywhere, nosniff, no framing, HSTS in production,
and ``Cache-Control: no-store`` on every page that shows personal data (issue 11, item 12).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import Warning as CheckWarning
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.views.decorators.cache import cache_control

from accounts.models import User
from accounts.roles import Role
from complaints import rights
from complaints.models import Complaint
from intake import services as intake
from intake.submission import Submission
from ops import caching, checks, csp
from routing.models import Department
from tests.conftest import make_user
from tests.factories import complaint_in
from tests.processes import ROOT, clean_environment

pytestmark = pytest.mark.django_db

EXPECTED_DIRECTIVES = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy(response: Any) -> dict[str, list[str]]:
    """The response's CSP as {directive: [sources]}."""
    found: dict[str, list[str]] = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        found[name] = sources
    return found


def nonce_of(response: Any) -> str:
    sources = policy(response)["script-src"]
    (nonce,) = [s for s in sources if s.startswith("'nonce-")]
    return nonce.removeprefix("'nonce-").removesuffix("'")


def logged_in(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


# --- Content-Security-Policy ----------------------------------------------------------


def test_every_page_carries_the_policy_with_a_fresh_nonce_for_scripts_and_styles() -> None:
    first, second = Client().get("/"), Client().get("/submit/")

    for response in (first, second):
        found = policy(response)
        assert {k: v for k, v in found.items() if k in EXPECTED_DIRECTIVES} == EXPECTED_DIRECTIVES
        nonce = nonce_of(response)
        assert found["script-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert found["style-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]
        assert len(nonce) >= 22  # 18 random bytes
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
    assert nonce_of(first) != nonce_of(second)


def test_api_answers_and_redirects_carry_the_policy_too(handler: User) -> None:
    api = Client().get("/api/v1/complaints/", HTTP_ACCEPT="application/json")
    redirect = Client().get("/console/")

    assert api.status_code == 401
    assert redirect.status_code == 302
    for response in (api, redirect):
        assert policy(response)["frame-ancestors"] == ["'none'"]
        assert response["X-Content-Type-Options"] == "nosniff"


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
STYLE_TAG = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def assert_nothing_inline_without_the_nonce(response: Any) -> None:
    """What the policy would block: inline scripts or styles without this response's
    nonce, inline event handlers, style attributes, javascript: links."""
    page = response.content.decode()
    nonce = nonce_of(response)
    for attributes in SCRIPT_TAG.findall(page):
        if "application/json" in attributes:  # data, never run (admin's constants)
            continue
        assert "src=" in attributes or f'nonce="{nonce}"' in attributes, attributes
    for attributes in STYLE_TAG.findall(page):
        assert f'nonce="{nonce}"' in attributes, attributes
    assert not INLINE_HANDLER.search(page), INLINE_HANDLER.search(page)
    assert not STYLE_ATTRIBUTE.search(page), STYLE_ATTRIBUTE.search(page)
    assert "javascript:" not in page.lower()


def test_portal_console_admin_and_reports_pages_have_nothing_the_policy_would_block(
    supervisor: User, admin_user: User, urban: Department
) -> None:
    complaint = complaint_in("assigned", department=urban)
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    staff, admin = logged_in(supervisor), logged_in(admin_user)
    pages = [
        (anonymous, "/"),
        (anonymous, "/submit/"),
        (anonymous, "/track/"),
        (anonymous, "/privacy/"),
        (anonymous, "/console/login/"),
        (staff, "/console/"),
        (staff, "/console/queue/"),
        (staff, f"/console/complaints/{complaint.pk}/"),
        (staff, "/console/deadlines/"),
        (staff, "/console/notifications/"),
        (staff, "/reports/"),
        (admin, "/admin/"),
        (admin, "/admin/complaints/complaint/"),
        (admin, f"/admin/complaints/complaint/{complaint.pk}/change/"),
        (admin, "/admin/routing/category/add/"),
        (staff, "/api/v1/docs/"),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_nothing_inline_without_the_nonce(response)


def test_the_api_docs_inline_start_up_code_carries_this_responses_nonce(handler: User) -> None:
    response = logged_in(handler).get("/api/v1/docs/")
    page = response.content.decode()

    nonce = nonce_of(response)
    assert f'<script nonce="{nonce}">' in page
    assert f'<style nonce="{nonce}">' in page


def test_only_the_redoc_page_may_use_inline_styles_and_it_loads_nothing_from_elsewhere(
    handler: User,
) -> None:
    response = logged_in(handler).get("/api/v1/docs/redoc/")
    found = policy(response)

    assert found["style-src"] == ["'self'", "'unsafe-inline'"]
    assert found["worker-src"] == ["'self'", "blob:"]
    assert found["script-src"] == ["'self'", f"'nonce-{nonce_of(response)}'"]
    assert "googleapis" not in response.content.decode()
    assert "'unsafe-inline'" not in Client().get("/api/v1/docs/")["Content-Security-Policy"]


def test_a_response_with_its_own_policy_keeps_it() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("x")
        response[csp.HEADER] = "default-src 'none'"
        return response

    response = csp.ContentSecurityPolicyMiddleware(view)(RequestFactory().get("/"))

    assert response[csp.HEADER] == "default-src 'none'"


# --- Cache-Control: no-store ----------------------------------------------------------


def assert_not_stored(response: Any, what: str) -> None:
    assert response.status_code == 200, (what, response.status_code)
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert "no-store" in directives, (what, response["Cache-Control"])


def test_every_page_showing_personal_data_is_neither_stored_nor_shared(
    settings: Any, tmp_path: Path, clerk: User, supervisor: User, urban: Department
) -> None:
    settings.MEDIA_ROOT = tmp_path
    administrator = make_user("administrator", Role.ADMINISTRATOR)
    receipt = intake.submit(
        Submission(
            channel="web",
            title="路灯坏了",
            content="幸福路的路灯坏了。",
            name="张伟",
            phone="13812345678",
            email="zhangwei@example.com",
        )
    )
    complaint = receipt.complaint
    Complaint.objects.filter(pk=complaint.pk).update(status="closed")
    request = rights.record_data_request(
        complaint_id=complaint.pk, kind="export", verified_by="身份证原件", actor=clerk
    )
    rights.decide_data_request(request.pk, approve=True, actor=administrator)
    staff, admin = logged_in(clerk), logged_in(administrator)
    petitioner_pk = complaint.petitioner_id

    portal = Client(HTTP_ACCEPT_LANGUAGE="en")
    portal.get(f"/track/{complaint.tracking_code}/{receipt.secret}/")
    token = Client()
    token.force_login(supervisor)

    pages = {
        "console complaint page": staff.get(f"/console/complaints/{complaint.pk}/"),
        "reveal": staff.post(f"/console/complaints/{complaint.pk}/reveal/", {"reason": "回电"}),
        "queue": staff.get("/console/queue/"),
        "data requests": staff.get("/console/data-requests/"),
        "data request": admin.get(f"/console/data-requests/{request.pk}/"),
        "data request copy": admin.get(f"/console/data-requests/{request.pk}/copy.json"),
        "tracking page": portal.get(f"/track/{complaint.tracking_code}/"),
        "portal copy": portal.get(f"/track/{complaint.tracking_code}/data/copy.json"),
        "api complaint": token.get(f"/api/v1/complaints/{complaint.pk}/"),
        "api petitioner": token.get(f"/api/v1/petitioners/{petitioner_pk}/"),
        "api petitioner search": token.get("/api/v1/petitioners/", {"q": "张伟"}),
        "export download": staff.post(
            "/reports/exports/", {"export": "complaints", "query": "", "format": "csv"}
        ),
        "admin petitioner": logged_in(User.objects.create_superuser("root2", "r@x.cn", "pw")).get(
            f"/admin/complaints/petitioner/{petitioner_pk}/change/"
        ),
    }
    for what, response in pages.items():
        assert_not_stored(response, what)


def test_a_view_that_allows_caching_keeps_its_own_header() -> None:
    @cache_control(public=True, max_age=600)
    def public_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("figures")

    def plain_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("someone's data")

    request = RequestFactory().get("/")
    kept = caching.PrivateByDefaultMiddleware(public_view)(request)
    private = caching.PrivateByDefaultMiddleware(plain_view)(request)

    assert kept["Cache-Control"] in ("public, max-age=600", "max-age=600, public")
    assert private["Cache-Control"] == "private, no-store"


def test_static_files_are_served_before_the_rule_and_keep_their_long_caching(
    settings: Any,
) -> None:
    middleware = list(settings.MIDDLEWARE)
    whitenoise = middleware.index("whitenoise.middleware.WhiteNoiseMiddleware")

    assert middleware.index("ops.caching.PrivateByDefaultMiddleware") > whitenoise
    assert middleware.index("ops.csp.ContentSecurityPolicyMiddleware") > whitenoise


# --- Production: check --deploy, HSTS over HTTPS --------------------------------------


def test_the_deployment_check_warns_when_the_header_middleware_is_missing(settings: Any) -> None:
    assert checks.security_headers(None) == []

    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m not in checks.REQUIRED_MIDDLEWARE]
    found = checks.security_headers(None)

    assert [w.id for w in found] == ["ops.W001", "ops.W001"]
    assert all(isinstance(w, CheckWarning) for w in found)


# Serves two requests with production settings in a fresh interpreter: over HTTPS (the
# proxy says so) and over plain HTTP. Neither touches the database.
PRODUCTION_REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="sutong.example.org")
answers = {}
for name, secure in (("https", True), ("http", False)):
    response = client.get("/console/", secure=secure)
    answers[name] = {"status": response.status_code, "headers": dict(response.items())}
print(json.dumps(answers))
"""


def test_production_answers_over_https_with_hsts_csp_nosniff_and_no_store(
    tmp_path: Path,
) -> None:
    env = clean_environment(
        tmp_path,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(45),
        ALLOWED_HOSTS="sutong.example.org",
    )
    deploy = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    served = subprocess.run(
        [sys.executable, "-c", PRODUCTION_REQUESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "System check identified no issues (0 silenced)" in deploy.stdout
    assert served.returncode == 0, served.stderr
    answers = json.loads(served.stdout.strip().splitlines()[-1])
    https, http = answers["https"]["headers"], answers["http"]["headers"]
    assert answers["https"]["status"] == 302  # to the login page
    assert https["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    assert "frame-ancestors 'none'" in https["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in https["Content-Security-Policy"]
    assert https["X-Content-Type-Options"] == "nosniff"
    assert https["X-Frame-Options"] == "DENY"
    assert https["Cache-Control"] == "private, no-store"
    # Plain HTTP is sent to HTTPS, and HSTS is only ever said over HTTPS.
    assert answers["http"]["status"] == 301
    assert http["Location"] == "https://sutong.example.org/console/"
    assert "Strict-Transport-Security" not in http
