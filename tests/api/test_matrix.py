"""Every operation of the API, for every kind of caller: who is let in and who is not.

One table: ``MATRIX[operationId][caller]`` is the class of answer that caller gets.

* ``OK``: allowed, and the call really does the thing (2xx): the fixtures put a real
  object in a state where the operation applies, and the body is a minimal valid one.
* ``DENIED``: 401 for the anonymous caller, 403 for anyone else (wrong kind of caller,
  role, scope, or a read-only token).
* ``HIDDEN``: 404: the object is outside the caller's reach, so it does not exist for them.

Staff cells are derived from the roles' permissions (``accounts.roles.ROLE_PERMISSIONS``)
rather than written out, so each row says *why* a role is let in:
``acts("accept_complaint")`` reads "whoever holds that permission and reaches the complaint".
``CALLS[operationId]`` says how each operation is called: its path parameters (real
objects, made per cell in a ``World``) and its body. Every answer is also checked
against the schema, by the ``api`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import AccessToken, User
from accounts.roles import ROLE_PERMISSIONS, Role
from complaints import services, surveys
from complaints.models import CoHandlingTask, Complaint, Reply
from intake.models import ChannelClient, ClientSubmission
from notifications import webhooks
from notifications.models import Notification, WebhookSubscription
from routing.models import Category, Department
from sla.models import Deadline, ExtensionRequest, Stage
from tests.api.conftest import ALL_SCOPES, LOCAL_HOOK, Api
from tests.api.schema import (
    Operation,
    assert_matches_schema,
    operation_by_id,
    operations,
    raw,
)
from tests.factories import approved_draft, complaint_in

OK, DENIED, HIDDEN = "ok", "denied", "hidden"
Expect = str
Row = dict[str, Expect]

# --- Callers ----------------------------------------------------------------------------

CLIENTS = ("client_without_scopes", "client_with_all_scopes")
# Staff caller → (persona fixture of tests/conftest.py, role; None for a superuser).
STAFF: dict[str, tuple[str, Role | None]] = {
    "clerk": ("clerk", Role.INTAKE_CLERK),
    "dispatcher": ("dispatcher", Role.DISPATCHER),
    "handler": ("handler", Role.HANDLER),
    "other_handler": ("market_handler", Role.HANDLER),
    "head": ("head", Role.DEPARTMENT_HEAD),
    "supervisor": ("supervisor", Role.SUPERVISOR),
    "auditor": ("auditor", Role.AUDITOR),
    "admin": ("admin_user", None),
    "read_only_token": ("supervisor", Role.SUPERVISOR),
}
CALLERS = ("anonymous", *CLIENTS, *STAFF)
# Complaints in the fixtures belong to the handler's department (urban management); the
# handler of another department (market regulation) does not reach them.
OUT_OF_REACH = {"other_handler"}
DEPARTMENT = {"handler": "urban", "head": "urban", "other_handler": "market"}


def may(caller: str, permission: str) -> bool:
    """Does the staff caller's role hold ``permission`` ("codename" of complaints, or
    "app.codename")? Roles are groups of complaints permissions only
    (``accounts.roles.create_missing_role_groups``); a superuser holds every one."""
    role = STAFF[caller][1]
    if role is None:
        return True
    app, _, codename = permission.rpartition(".")
    return app in ("", "complaints") and codename in ROLE_PERMISSIONS[role]


# --- Rows: one operation's expectations, derived from what decides them ----------------


def row(staff: Callable[[str], Expect], *, writes: bool, clients: Expect = DENIED) -> Row:
    cells: Row = {"anonymous": DENIED}
    cells.update(dict.fromkeys(CLIENTS, clients))
    cells.update({caller: staff(caller) for caller in STAFF})
    if writes:
        cells["read_only_token"] = DENIED  # it reads only, whatever its owner may do
    return cells


def reads(*, scoped: bool = True) -> Row:
    """Staff only, reading (a complaint within reach, when ``scoped``)."""

    def decide(caller: str) -> Expect:
        if scoped and caller in OUT_OF_REACH:
            return HIDDEN
        return OK if may(caller, "view_complaint") else DENIED

    return row(decide, writes=False)


def acts(permission: str) -> Row:
    """Staff only, acting on a complaint: ``permission`` (a codename), within reach."""

    def decide(caller: str) -> Expect:
        if caller in OUT_OF_REACH or not may(caller, "view_complaint"):
            return HIDDEN
        return OK if may(caller, permission) else DENIED

    return row(decide, writes=True)


def staff_writes(permission: str) -> Row:
    """Staff only, making something that belongs to no complaint: the permission alone."""
    return row(lambda caller: OK if may(caller, permission) else DENIED, writes=True)


def co_handlers(permission: str) -> Row:
    """Staff of the co-handling department (market regulation) holding ``permission``."""

    def decide(caller: str) -> Expect:
        ok = DEPARTMENT.get(caller) == "market" and may(caller, permission)
        return OK if ok else DENIED

    return row(decide, writes=True)


def report_readers() -> Row:
    """``reporting.access.department_lock``: every department, or a head's own."""

    def decide(caller: str) -> Expect:
        wide = may(caller, "access_all_departments")
        head = caller in DEPARTMENT and may(caller, "manage_department")
        return OK if wide or head else DENIED

    return row(decide, writes=False)


def session_only() -> Row:
    """Any member of staff logged in to the console; a token (read-only or not) never
    manages tokens."""
    return row(lambda caller: OK, writes=True)


def channel(scope: str, *, writes: bool = True) -> Row:
    """Channel clients holding ``scope``; staff are the wrong kind of caller."""
    cells = row(lambda caller: DENIED, writes=writes)
    cells["client_with_all_scopes"] = OK if scope in ALL_SCOPES else DENIED
    return cells


def manages_webhooks(*, writes: bool) -> Row:
    """Staff with ``notifications.manage_webhooks`` (no role carries it: superusers), or a
    channel client with the scope ``webhooks`` (on its own subscriptions)."""
    cells = row(
        lambda caller: OK if may(caller, "notifications.manage_webhooks") else DENIED,
        writes=writes,
    )
    cells["client_with_all_scopes"] = OK
    return cells


def authenticated() -> Row:
    """Whoever is authenticated: staff and channel clients alike."""
    return row(lambda caller: OK, writes=False, clients=OK)


def anyone() -> Row:
    return dict.fromkeys(CALLERS, OK)


MATRIX: dict[str, Row] = {
    "root": anyone(),
    "me": authenticated(),
    "categories_list": authenticated(),
    "departments_list": authenticated(),
    "kpis_read": report_readers(),
    "petitioners_search": reads(scoped=False),
    "petitioners_read": reads(),
    "tokens_list": session_only(),
    "tokens_read": session_only(),
    "tokens_create": session_only(),
    "tokens_revoke": session_only(),
    # Complaints, and their actions.
    "complaints_list": reads(scoped=False),
    "complaints_register": staff_writes("register_complaint"),
    "complaints_read": reads(),
    "complaints_reveal_personal_data": acts("view_personal_data"),
    "complaints_classify": acts("classify_complaint"),
    "complaints_request_info": acts("request_info_complaint"),
    "complaints_supply_info": acts("supply_info_complaint"),
    "complaints_assign": acts("assign_complaint"),
    "complaints_transfer": acts("transfer_complaint"),
    "complaints_send_back": acts("send_back_complaint"),
    "complaints_accept": acts("accept_complaint"),
    "complaints_reply": acts("reply_complaint"),
    "complaints_close": acts("close_complaint"),
    "complaints_reopen": acts("reopen_complaint"),
    "complaints_reject": acts("reject_complaint"),
    "complaints_merge": acts("merge_complaint"),
    "complaints_withdraw": acts("withdraw_complaint"),
    "complaints_archive": acts("archive_complaint"),
    # Working on a complaint (api.work): the permission is the one the service requires
    # (``_require(actor, complaint, verb)`` in complaints.services), not always its name.
    "complaints_events": reads(),
    "complaints_notes": reads(),
    "complaints_add_note": acts("add_note_complaint"),
    "complaints_record_plan": acts("draft_reply_complaint"),
    "complaints_record_contact": acts("request_info_complaint"),
    "complaints_attachments": reads(),
    "complaints_add_attachments": acts("add_note_complaint"),
    "complaints_download_attachment": reads(),
    "complaints_replies": reads(),
    "complaints_draft_reply": acts("draft_reply_complaint"),
    "complaints_approve_reply": acts("approve_reply_complaint"),
    "complaints_return_reply": acts("approve_reply_complaint"),
    "complaints_record_delivery": acts("deliver_reply_complaint"),
    "complaints_surveys": reads(),
    "complaints_answer_survey": acts("record_survey_complaint"),
    # The co-handling department reaches the complaint while its task is open.
    "complaints_co_handling": reads(scoped=False),
    "complaints_request_co_handling": acts("transfer_complaint"),
    # services.complete_co_handling: the co-handling department, with the right to accept.
    "complaints_complete_co_handling": co_handlers("accept_complaint"),
    "complaints_request_extension": acts("request_extension_complaint"),
    "complaints_decide_extension": acts("decide_extension_complaint"),
    # Channels.
    "intake_submit": channel(ChannelClient.Scope.INTAKE),
    "submissions_list": channel(ChannelClient.Scope.READ_OWN, writes=False),
    "submissions_read": channel(ChannelClient.Scope.READ_OWN, writes=False),
    "submissions_supplement": channel(ChannelClient.Scope.ACT_OWN),
    "submissions_withdraw": channel(ChannelClient.Scope.ACT_OWN),
    "submissions_answer_survey": channel(ChannelClient.Scope.ACT_OWN),
    # Webhooks (api.webhooks).
    "webhooks_list": manages_webhooks(writes=False),
    "webhooks_read": manages_webhooks(writes=False),
    "webhooks_deliveries": manages_webhooks(writes=False),
    "webhooks_create": manages_webhooks(writes=True),
    "webhooks_update": manages_webhooks(writes=True),
    "webhooks_delete": manages_webhooks(writes=True),
    "webhooks_ping": manages_webhooks(writes=True),
    "webhooks_rotate_secret": manages_webhooks(writes=True),
    "webhooks_redeliver": manages_webhooks(writes=True),
}


# --- The world each cell runs in --------------------------------------------------------


class World:
    """The organisation of one operation's cells, and the objects it is called on.

    Made once per operation (the personas of tests/conftest.py, two departments, a
    category, the channel client with every scope); each cell then runs in a savepoint
    that is rolled back, so the objects it makes and the changes its call makes do not
    reach the next cell. Complaints belong to the handler's department; ``client``'s own
    complaints are the ones channel operations are called on.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.caller = "anonymous"
        self.users: dict[str, User] = {
            caller: request.getfixturevalue(fixture) for caller, (fixture, _) in STAFF.items()
        }
        self.handler = self.users["handler"]
        self.urban: Department = request.getfixturevalue("urban")
        self.market: Department = request.getfixturevalue("market")
        self.facilities: Category = request.getfixturevalue("facilities")
        self.client, self._client_token = ChannelClient.create_with_token(
            name="wechat", scopes=list(ALL_SCOPES)
        )
        request.getfixturevalue("local_webhooks")
        self.settings = request.getfixturevalue("settings")
        self.tmp_path = request.getfixturevalue("tmp_path")

    @property
    def me(self) -> User:
        """The staff user calling (the supervisor for callers that are not staff)."""
        return self.users.get(self.caller, self.users["supervisor"])

    def complaint(self, status: str, *, owned: bool = False, **fields: Any) -> Complaint:
        """A complaint in ``status`` in the handler's department, assigned to them once it
        has been assigned; ``owned``: submitted by ``client``."""
        fields.setdefault("department", self.urban)
        if status not in ("received", "classified", "needs_info"):
            fields.setdefault("assignee", self.handler)
        complaint = complaint_in(status, **fields)
        if owned:
            ClientSubmission.objects.create(client=self.client, complaint=complaint)
        return complaint

    def replied(self, *, owned: bool = False, **reply: Any) -> Complaint:
        """A replied complaint: its reply sent, its survey open."""
        complaint = self.complaint("replied", owned=owned, replied_at=timezone.now())
        sent = approved_draft(complaint, sent_at=timezone.now(), **reply)
        surveys.open_survey(complaint, sent)
        return complaint

    def with_draft(self) -> Complaint:
        """An urgent complaint being handled, its draft reply waiting for one approval."""
        complaint = self.complaint("in_progress", priority="urgent")
        Reply.objects.create(
            complaint=complaint, body="已处理。", author=self.handler, required_levels=1
        )
        return complaint

    def deadline(self) -> Deadline:
        now = timezone.now()
        return Deadline.objects.create(
            complaint=self.complaint("in_progress"),
            stage=Stage.CYCLE,
            basis="business",
            started_at=now,
            due_at=now + timedelta(days=5),
        )

    def authenticate(self, api: Api, caller: str, *, session: bool) -> None:
        if caller == "anonymous":
            api.anonymous()
        elif caller == "client_without_scopes":
            api.as_client(scopes=[])
        elif caller == "client_with_all_scopes":
            api.with_token(self._client_token, self.client)
        elif caller == "read_only_token":
            api.as_staff(self.me, scope=AccessToken.Scope.READ)
        elif session:
            api.as_session(self.me)
        else:
            api.as_staff(self.me, scope=AccessToken.Scope.WRITE)


# --- How each operation is called -------------------------------------------------------

Make = Callable[[World], Any]


def nothing(world: World) -> None:
    return None


@dataclass
class Call:
    """One operation's path parameters and body (for GET: its query), made in a ``World``.

    ``setup`` makes what a list should show; ``session``: staff call it logged in to the
    console rather than with a token.
    """

    setup: Make = nothing
    params: Callable[[World], dict[str, Any]] = lambda world: {}
    body: Make = nothing
    headers: tuple[tuple[str, str], ...] = ()
    format: str = "json"
    session: bool = False


def on(what: str | Make, body: dict[str, Any] | Make | None = None, **options: Any) -> Call:
    """An operation on the object ``what`` makes (a status: a complaint in that status)."""
    make: Make = (lambda world: world.complaint(what)) if isinstance(what, str) else what
    return param("id", make, body, **options)


def param(name: str, make: Make, body: dict[str, Any] | Make | None = None, **options: Any) -> Call:
    """The path parameter ``name`` is the object ``make`` makes; ``body`` is fixed or made."""
    given = body
    return Call(
        params=lambda world: {name: make(world).pk},
        body=given if callable(given) else lambda world: given or {},
        **options,
    )


def text_file(world: World) -> SimpleUploadedFile:
    world.settings.MEDIA_ROOT = str(world.tmp_path)
    return SimpleUploadedFile("现场说明.txt", "路灯在 12 号门口。".encode(), "text/plain")


def attachment(world: World) -> Any:
    complaint = world.complaint("in_progress")
    return services.add_attachment(
        complaint_id=complaint.pk, upload=text_file(world), actor=world.handler
    )


def co_handling_task(world: World) -> CoHandlingTask:
    return CoHandlingTask.objects.create(
        complaint=world.complaint("in_progress"),
        department=world.market,
        task="核查营业执照",
        due_at=timezone.now() + timedelta(days=2),
        requested_by=world.handler,
    )


def extension_request(world: World) -> ExtensionRequest:
    deadline = world.deadline()
    return ExtensionRequest.objects.create(
        deadline=deadline,
        reason="等待检测报告",
        previous_due_at=deadline.due_at,
        requested_due_at=deadline.due_at + timedelta(days=2),
        requested_by=world.handler,
    )


def subscription(world: World) -> WebhookSubscription:
    """A webhook subscription of the channel client (so staff and the client reach it)."""
    found = WebhookSubscription(
        client=world.client, name="CRM", url=LOCAL_HOOK, events=["complaint.status_changed"]
    )
    found.issue_secret()
    found.save()
    return found


def sent_delivery(world: World) -> dict[str, Any]:
    delivery = webhooks.ping(subscription(world))
    delivery.status = Notification.Status.SENT
    delivery.save(update_fields=["status"])
    return {"id": delivery.webhook_id, "delivery_id": delivery.pk}


def noted(world: World) -> Complaint:
    complaint = world.complaint("in_progress")
    services.add_note(complaint_id=complaint.pk, body="已联系现场。", actor=world.handler)
    return complaint


def with_attachment(world: World) -> Complaint:
    found: Complaint = attachment(world).complaint
    return found


def co_handled(world: World) -> Complaint:
    return co_handling_task(world).complaint


def owned(world: World) -> Complaint:
    return world.complaint("in_progress", owned=True)


def delivered(world: World) -> WebhookSubscription:
    found = subscription(world)
    webhooks.ping(found)
    return found


def own_token(world: World) -> AccessToken:
    token, _raw = AccessToken.create_with_token(user=world.me, name="nightly export")
    return token


def reply_draft(world: World) -> Complaint:
    complaint = world.complaint("in_progress")
    approved_draft(complaint)
    return complaint


def later() -> str:
    return (timezone.now() + timedelta(days=3)).isoformat()


SUBMISSION = {
    "title": "路灯不亮",
    "content": "人民路的路灯坏了一周。",
    "petitioner": {"name": "李雷", "phone": "13900001111"},
    "privacy_consent": True,
}
SURVEY_ANSWER = {"resolved": True, "rating": 5}

CALLS: dict[str, Call] = {
    "root": Call(),
    "me": Call(),
    "categories_list": Call(),
    "departments_list": Call(),
    "kpis_read": Call(),
    "petitioners_search": Call(setup=noted, body=lambda world: {"q": "张伟"}),
    "petitioners_read": Call(
        params=lambda world: {"id": world.complaint("in_progress").petitioner_id}
    ),
    "tokens_list": Call(setup=own_token, session=True),
    "tokens_read": Call(params=lambda world: {"id": own_token(world).pk}, session=True),
    "tokens_create": Call(body=lambda world: {"name": "报表脚本"}, session=True),
    "tokens_revoke": Call(params=lambda world: {"id": own_token(world).pk}, session=True),
    "complaints_list": Call(setup=noted),
    "complaints_register": Call(body=lambda world: {**SUBMISSION, "channel": "hotline"}),
    "complaints_read": on("in_progress"),
    "complaints_reveal_personal_data": on("in_progress", {"reason": "回访核实"}),
    "complaints_classify": on(
        "received", lambda world: {"category": world.facilities.code, "priority": "normal"}
    ),
    "complaints_request_info": on("in_progress", {"question": "具体在哪条路？"}),
    "complaints_supply_info": on("needs_info", {"details": "人民路 12 号"}),
    "complaints_assign": on("classified", lambda world: {"department": world.urban.code}),
    "complaints_transfer": on(
        "in_progress", lambda world: {"department": world.market.code, "reason": "属于市场监管"}
    ),
    "complaints_send_back": on("assigned", {"reason": "不属本部门"}),
    "complaints_accept": on("assigned"),
    "complaints_reply": on(reply_draft),
    "complaints_close": on("replied"),
    "complaints_reopen": on("replied", {"reason": "不满意"}),
    "complaints_reject": on("received", {"reason": "不属受理范围"}),
    "complaints_merge": on(
        "received", lambda world: {"into": world.complaint("received").tracking_code}
    ),
    "complaints_withdraw": on("in_progress"),
    "complaints_archive": on("closed"),
    "complaints_events": on(noted),
    "complaints_notes": on(noted),
    "complaints_add_note": on("in_progress", {"body": "已电话联系。"}),
    "complaints_record_plan": on("in_progress", {"plan": "三日内现场维修。"}),
    "complaints_record_contact": on("in_progress", {"note": "电话告知维修时间。"}),
    "complaints_attachments": on(with_attachment),
    "complaints_add_attachments": on(
        "in_progress", lambda world: {"file": [text_file(world)]}, format="multipart"
    ),
    "complaints_download_attachment": param("id", attachment),
    "complaints_replies": on(reply_draft),
    "complaints_draft_reply": on("in_progress", {"body": "路灯已修复。"}),
    "complaints_approve_reply": on(World.with_draft),
    "complaints_return_reply": on(World.with_draft, {"comment": "请写明修复日期。"}),
    "complaints_record_delivery": on(
        lambda world: world.replied(delivery="letter"), {"note": "已挂号邮寄"}
    ),
    "complaints_surveys": on(World.replied),
    "complaints_answer_survey": on(World.replied, SURVEY_ANSWER),
    "complaints_co_handling": on(co_handled),
    "complaints_request_co_handling": on(
        "in_progress",
        lambda world: {"department": world.market.code, "task": "核查执照", "due_at": later()},
    ),
    "complaints_complete_co_handling": param(
        "task_id", co_handling_task, {"result": "已核查，证照齐全。"}
    ),
    "complaints_request_extension": Call(
        params=lambda world: (
            lambda deadline: {"id": deadline.complaint_id, "deadline_id": deadline.pk}
        )(world.deadline()),
        body=lambda world: {
            "until": (timezone.now() + timedelta(days=8)).isoformat(),
            "reason": "等待检测报告",
        },
    ),
    "complaints_decide_extension": param("id", extension_request, {"approve": True}),
    "intake_submit": Call(body=lambda world: SUBMISSION, headers=(("Idempotency-Key", "m-1"),)),
    "submissions_list": Call(setup=owned),
    "submissions_read": on(owned),
    "submissions_supplement": on(owned, {"text": "补充：12 号门口。"}),
    "submissions_withdraw": on(owned),
    "submissions_answer_survey": on(lambda world: world.replied(owned=True), SURVEY_ANSWER),
    "webhooks_list": Call(setup=subscription),
    "webhooks_read": on(subscription),
    "webhooks_deliveries": on(delivered),
    "webhooks_create": Call(
        body=lambda world: {"name": "CRM", "url": LOCAL_HOOK, "events": ["complaint.created"]}
    ),
    "webhooks_update": on(subscription, {"name": "CRM (new)"}),
    "webhooks_delete": on(subscription),
    "webhooks_ping": on(subscription),
    "webhooks_rotate_secret": on(subscription),
    "webhooks_redeliver": Call(params=sent_delivery),
}


# --- The table test ---------------------------------------------------------------------


def expected_statuses(expect: Expect, caller: str) -> set[int]:
    if expect == DENIED:
        return {401} if caller == "anonymous" else {403}
    if expect == HIDDEN:
        return {404}
    return set(range(200, 300))


def described(statuses: set[int]) -> str:
    return "2xx" if 200 in statuses else "/".join(map(str, sorted(statuses)))


def call(api: Api, operation: Operation, world: World) -> Any:
    how = CALLS[operation.id]
    how.setup(world)
    path = operation.template.format(**how.params(world))
    body = how.body(world)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in how.headers}
    world.authenticate(api, world.caller, session=how.session)
    send = getattr(api, operation.method)
    if operation.method == "get":
        return send(path, body, **headers)
    return send(path, body, format=how.format, **headers)


@pytest.fixture
def world(request: pytest.FixtureRequest, db: None) -> World:
    return World(request)


@pytest.mark.parametrize("operation_id", list(MATRIX))
def test_matrix(operation_id: str, api: Api, world: World) -> None:
    """Each caller in turn, in a savepoint rolled back after its call."""
    operation = operation_by_id(operation_id)
    wrong = []
    for caller, expect in MATRIX[operation_id].items():
        wanted = expected_statuses(expect, caller)
        with transaction.atomic():
            world.caller = caller
            try:
                response = call(api, operation, world)
            except Exception as error:  # a server error, or an answer the schema lacks
                why = str(error).replace("\n", "\n    ")
                wrong.append(
                    f"{caller}: expected {described(wanted)}; {type(error).__name__}: {why}"
                )
                continue
            finally:
                transaction.set_rollback(True)
        if response.status_code not in wanted:
            got = f"{response.status_code} {raw(response)[:300].decode(errors='replace')}"
            wrong.append(f"{caller}: expected {described(wanted)} ({expect}), got {got}")
    if wrong:
        pytest.fail(f"{operation}:\n  " + "\n  ".join(wrong), pytrace=False)


def test_every_operation_has_a_row() -> None:
    """A new endpoint cannot slip in untested: each operation needs its row and its call."""
    documented = {operation.id for operation in operations()}
    assert sorted(documented - set(MATRIX)) == [], "operations without a row in MATRIX"
    assert sorted(documented - set(CALLS)) == [], "operations without a way to call in CALLS"
    assert sorted(set(MATRIX) - documented) == [], "rows for operations the schema lacks"
    incomplete = {op: sorted(set(CALLERS) - set(cells)) for op, cells in MATRIX.items()}
    assert {op: missing for op, missing in incomplete.items() if missing} == {}


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_an_unknown_address_answers_404_in_the_error_format(api: Api, method: str) -> None:
    """For every method: not an HTML page (a CSRF refusal, say) from outside the API."""
    api.as_client(scopes=[])
    response = getattr(api, method)("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_schema_check_refuses_an_undocumented_status(api: Api) -> None:
    with api.unchecked():
        response = api.get("/api/v1/complaints/")  # anonymous: 401, documented
    response.status_code = 418
    with pytest.raises(
        AssertionError, match="status 418 not documented for GET /api/v1/complaints/"
    ):
        assert_matches_schema(response)


def test_the_schema_check_refuses_a_body_that_breaks_the_schema(api: Api) -> None:
    with api.unchecked():
        response = api.get("/api/v1/complaints/")
    response.content = b'{"code": "not_authenticated", "message": 401}'
    with pytest.raises(AssertionError, match="errors"):
        assert_matches_schema(response)
