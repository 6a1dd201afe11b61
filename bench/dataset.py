"""A year of 1,000,000 complaints on PostgreSQL, loaded once by COPY and kept.

Shared by ``bench.reports`` (the KPIs read it) and ``bench.scale`` (the console and API
read it). The spread is meant to look like a city's year, not like a test fixture:

* twelve departments of very different sizes, twenty categories (six with
  sub-categories) mostly handled by their usual department, nine channels, six kinds,
  four petitioner types; fewer complaints on weekends and at night;
* titles and content from the routing demo corpus (Chinese and English, the category's
  own texts) with a street address appended, so that no two are quite alike;
* petitioners with Chinese or English names, mainland mobile numbers, some e-mails; a
  quarter of complaints from people who complained before;
* each complaint moves through the lifecycle at realistic speeds (classified within the
  hour, assigned, accepted within hours, replied within days, a few stuck for weeks),
  so the recent ones are open in every state — received, classified, assigned,
  in progress, waiting for the petitioner, reopened — with their running deadlines, and
  the stuck ones are overdue and supervised; a few are rejected, merged or withdrawn;
* every department has a head and handlers; complaints from assignment on have one;
* the timeline has an event per step (received, classified, assigned, accepted, replies,
  questions and answers, notes, closing), two per complaint at least.
"""

from __future__ import annotations

import io
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 8
# Every loaded complaint carries this instead of a hashed secret: how a load is recognised.
MARKER = "x" * 64

DEPARTMENTS = [  # code, English name, Chinese name, share of the work
    ("urban", "Urban Management Bureau", "城市管理局", 20),
    ("market", "Market Regulation Bureau", "市场监督管理局", 15),
    ("housing", "Housing Bureau", "住房和城乡建设局", 12),
    ("transport", "Transport Bureau", "交通运输局", 10),
    ("environment", "Ecology and Environment Bureau", "生态环境局", 9),
    ("health", "Health Commission", "卫生健康委员会", 8),
    ("education", "Education Bureau", "教育局", 7),
    ("hrss", "Human Resources and Social Security Bureau", "人力资源和社会保障局", 6),
    ("police", "Public Security Bureau", "公安局", 5),
    ("water", "Water Authority", "水务局", 4),
    ("civil", "Civil Affairs Bureau", "民政局", 3),
    ("petition", "Petition Office", "信访办公室", 1),
]
CATEGORIES = [  # code, parent code, usual department, share
    ("service_quality", "", "market", 10),
    ("service_quality_refunds", "service_quality", "market", 6),
    ("service_quality_food", "service_quality", "market", 5),
    ("efficiency", "", "hrss", 6),
    ("efficiency_permits", "efficiency", "housing", 5),
    ("efficiency_benefits", "efficiency", "hrss", 4),
    ("facilities", "", "urban", 8),
    ("facilities_lights", "facilities", "urban", 7),
    ("facilities_roads", "facilities", "transport", 7),
    ("facilities_water", "facilities", "water", 4),
    ("facilities_noise", "facilities", "environment", 6),
    ("staff_conduct", "", "civil", 3),
    ("staff_conduct_police", "staff_conduct", "police", 3),
    ("policy_inquiry", "", "petition", 5),
    ("policy_inquiry_schools", "policy_inquiry", "education", 5),
    ("policy_inquiry_health", "policy_inquiry", "health", 5),
    ("policy_inquiry_housing", "policy_inquiry", "housing", 4),
    ("other", "", "petition", 3),
    ("other_pollution", "other", "environment", 3),
    ("other_traffic", "other", "transport", 3),
]
CHANNELS = [
    ("hotline", 32),
    ("web", 22),
    ("wechat", 18),
    ("app", 8),
    ("walk_in", 6),
    ("email", 5),
    ("letter", 4),
    ("api", 3),
    ("open311", 2),
]
KINDS = [
    ("complaint", 55),
    ("inquiry", 18),
    ("help", 10),
    ("suggestion", 8),
    ("report", 5),
    ("praise", 4),
]
PETITIONER_TYPES = [("individual", 86), ("organisation", 6), ("employee", 5), ("partner", 3)]
RATINGS = [(5, 45), (4, 25), (3, 12), (2, 8), (1, 10)]
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 14, 10, 14, 16, 15, 13, 10, 8, 6, 5, 4, 2, 1]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国玉红春燕文斌婷宇浩鹏"
FIRST_EN = ["James", "Mary", "John", "Linda", "Wei", "Emma", "Oliver", "Sophia", "Ming", "Anna"]
LAST_EN = ["Smith", "Brown", "Wang", "Li", "Chen", "Taylor", "Wilson", "Zhang", "Liu", "Clark"]
DISTRICTS = ["临江区", "城南区", "高新区", "东湖区", "西城区", "北山区"]
ROADS = ["人民路", "解放路", "建设路", "中山路", "和平路", "新华路", "长江路", "滨河路", "光明街"]
ROADS_EN = ["Renmin", "Jiefang", "Jianshe", "Zhongshan", "Heping", "Xinhua", "Changjiang"]
REPLIES = [
    "您好，您反映的问题已转相关科室现场核查并处理完毕，感谢您的监督。",
    "您好，经核实，相关单位已于近日整改，后续我们将持续跟踪。",
    "Thank you for your report. The team inspected the site and the problem has been fixed.",
    "您好，您咨询的政策已在回复中逐条说明，如有疑问请拨打热线。",
]
NOTES = ["已电话联系信访人，约定明天上午现场查看。", "Called the petitioner; site visit booked."]
QUESTIONS = ["请补充具体地址和发生时间。", "Please tell us the exact address and when it happened."]
ANSWERS = ["在小区北门东侧，每天晚上十点以后。", "Next to the north gate, every night after 10 pm."]

CORPUS = Path(__file__).resolve().parent.parent / "routing" / "data" / "demo_corpus.jsonl"


def _picker(pairs: Sequence[tuple[Any, float]], generator: random.Random) -> Callable[[], Any]:
    values = [value for value, _ in pairs]
    cumulative = []
    total = 0.0
    for _value, weight in pairs:
        total += weight
        cumulative.append(total)

    def pick() -> Any:
        return generator.choices(values, cum_weights=cumulative)[0]

    return pick


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _copy_text(text: str) -> str:
    """``text`` as one field of COPY's text format."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _payload(**values: Any) -> str:
    return _copy_text(json.dumps(values, ensure_ascii=False))


def tracking_code(n: int, received: float) -> str:
    """The ``n``-th complaint's code, in the real format (``TS-2026-7K3M9QXA``), unique."""
    from django.utils import timezone

    from complaints.tracking import CROCKFORD, PREFIX

    year = datetime.fromtimestamp(received, timezone.get_default_timezone()).year
    number = (n * 1_103_515_245 + 12_345) % 32**8  # a bijection on 0 … 32⁸ − 1: no repeats
    symbols = ""
    for _ in range(8):
        number, digit = divmod(number, 32)
        symbols += CROCKFORD[digit]
    return f"{PREFIX}-{year}-{symbols}"


def corpus() -> dict[str, list[tuple[str, str, str, str]]]:
    """The demo corpus by category: (language, priority, title, content), COPY-escaped."""
    found: dict[str, list[tuple[str, str, str, str]]] = {}
    with CORPUS.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                found.setdefault(record["category"], []).append(
                    (
                        record["language"],
                        record["priority"],
                        _copy_text(record["title"]),
                        _copy_text(record["content"]),
                    )
                )
    return found


def organisation() -> tuple[dict[str, int], dict[str, int], dict[int, list[tuple[int, str]]]]:
    """Departments, categories and each department's handlers (id, username), made once."""
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import Role
    from routing.models import Category, Department

    departments = {}
    handlers: dict[int, list[tuple[int, str]]] = {}
    groups = {role: Group.objects.get(name=role.value) for role in Role}
    for code, en, zh, share in DEPARTMENTS:
        department, _ = Department.objects.get_or_create(
            code=f"bench_{code}", defaults={"name_en": en, "name_zh": zh}
        )
        departments[code] = department.pk
        people = [(f"bench_{code}_head", Role.DEPARTMENT_HEAD)] + [
            (f"bench_{code}_{n:02d}", Role.HANDLER) for n in range(max(2, 2 * share))
        ]
        handlers[department.pk] = []
        for n, (username, role) in enumerate(people):
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "department": department,
                    "first_name": GIVEN[n % len(GIVEN)] + GIVEN[(n * 7 + 3) % len(GIVEN)],
                    "last_name": SURNAMES[(n * 5 + len(code)) % len(SURNAMES)],
                    "email": f"{username}@example.com",
                },
            )
            if created:
                user.groups.add(groups[role])
            if role == Role.HANDLER:
                handlers[department.pk].append((user.pk, username))
    categories: dict[str, int] = {}
    for code, parent, usual, _share in CATEGORIES:
        category, _ = Category.objects.get_or_create(
            code=f"bench_{code}",
            defaults={
                "name_en": code.replace("_", " ").capitalize(),
                "name_zh": code,
                "parent_id": categories.get(parent),
                "default_department_id": departments[usual],
            },
        )
        categories[code] = category.pk
    return departments, categories, handlers


class _Tables:
    """COPY buffers for one batch, with ids given here (sequences are set afterwards)."""

    COLUMNS = {
        "complaints_petitioner": (
            "id type name organisation phone email id_number address language created_at"
        ),
        "complaints_complaint": (
            "id tracking_code secret_hash kind channel external_ref title content location "
            "status resume_status priority received_at replied_at closed_at created_at "
            "updated_at version category_id department_id petitioner_id channel_data "
            "contact_preference is_anonymous is_sensitive supervision close_reason reopen_count "
            "overdue_since assignee_id merged_into_id"
        ),
        "complaints_event": (
            "id kind actor_label from_state to_state payload created_at complaint_id actor_id"
        ),
        "complaints_reply": (
            "id body sent_at created_at updated_at complaint_id approved_level delivery "
            "delivery_note required_levels returned_comment"
        ),
        "complaints_survey": (
            "id round token_hash sent_at closes_at answered_at via resolved rating comment "
            "outcome complaint_id reply_id"
        ),
        "sla_deadline": (
            "id stage basis started_at warn_at due_at state paused_at due_left paused_seconds "
            "breached_at escalation_level round closed_at provisional created_at complaint_id"
        ),
    }

    def __init__(self, first_ids: dict[str, int]) -> None:
        self.buffers = {table: io.StringIO() for table in self.COLUMNS}
        self.next_id = dict(first_ids)

    def add(self, table: str, *values: Any) -> int:
        pk = self.next_id[table]
        self.next_id[table] = pk + 1
        self.buffers[table].write(
            "\t".join(["\\N" if v is None else str(v) for v in (pk, *values)]) + "\n"
        )
        return pk

    def copy(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            for table, columns in self.COLUMNS.items():
                buffer = self.buffers[table]
                buffer.seek(0)
                cursor.copy_expert(
                    f"COPY {table} ({', '.join(columns.split())}) FROM STDIN", buffer
                )


def load(count: int, *, days: int = 365) -> tuple[date, date]:
    """A year of complaints ending yesterday; returns the first and last day received.

    One long function on purpose: the lifecycle of one complaint reads top to bottom.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from complaints.models import Complaint

    today = timezone.localdate()
    first_day = today - timedelta(days=days)
    loaded = Complaint.objects.filter(secret_hash=MARKER)
    if loaded.count() >= count:
        return first_day, today - timedelta(days=1)
    if loaded.exists():
        sys.exit("A partial bench load is in the database: drop it and start again.")
    departments, categories, handlers = organisation()
    texts = corpus()
    generator = random.Random(SEED)
    rnd = generator.random
    lognorm = generator.lognormvariate
    department_of = {code: departments[usual] for code, _p, usual, _s in CATEGORIES}
    root_of = {code: parent or code for code, parent, _u, _s in CATEGORIES}
    pick_category = _picker([(code, share) for code, _p, _u, share in CATEGORIES], generator)
    pick_department = _picker(
        [(departments[code], share) for code, _e, _z, share in DEPARTMENTS], generator
    )
    pick_channel = _picker(CHANNELS, generator)
    pick_kind = _picker(KINDS, generator)
    pick_type = _picker(PETITIONER_TYPES, generator)
    pick_rating = _picker(RATINGS, generator)
    # Fewer on weekends, a little seasonal swell; hours mostly in the working day.
    day_weights = []
    for n in range(days):
        weekday = (first_day + timedelta(days=n)).weekday()
        weight = 0.55 if weekday >= 5 else 1.0
        day_weights.append(weight * (1 + 0.25 * math.sin(2 * math.pi * n / days)))
    pick_day = _picker(list(enumerate(day_weights)), generator)
    pick_hour = _picker(list(enumerate(HOUR_WEIGHTS)), generator)
    start0 = datetime.combine(
        first_day, datetime.min.time(), tzinfo=timezone.get_current_timezone()
    ).timestamp()
    now = time.time()
    hour, day = 3600.0, 86400.0
    department_code = {pk: f"bench_{code}" for code, pk in departments.items()}

    def next_ids() -> dict[str, int]:
        found = {}
        with connection.cursor() as cursor:
            for table in _Tables.COLUMNS:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608
                found[table] = cursor.fetchone()[0]
        return found

    petitioners: list[int] = []
    ids = next_ids()
    first_complaint = ids["complaints_complaint"]
    # Complaints are made in order of receipt, so "before" means earlier in the list.
    moments = sorted(
        start0 + pick_day() * day + pick_hour() * hour + rnd() * hour for _ in range(count)
    )
    started = time.perf_counter()
    batch = 50_000
    for first in range(0, count, batch):
        tables = _Tables(ids)
        add = tables.add
        for n in range(first, min(count, first + batch)):
            received = moments[n]
            category = pick_category()
            language, priority, title, content = generator.choice(texts[root_of[category]])
            if language == "zh":
                place = f"{generator.choice(DISTRICTS)}{generator.choice(ROADS)}"
                content += f"（地址：{place}{generator.randint(1, 399)}号）"
            else:
                road = generator.choice(ROADS_EN)
                content += f" (Address: {generator.randint(1, 399)} {road} Road)"
            # Most are routine, whatever the example text's grading was.
            priority = priority if rnd() < 0.25 else "normal"
            if petitioners and rnd() < 0.25:
                petitioner = generator.choice(petitioners)
            else:
                if language == "zh":
                    name = generator.choice(SURNAMES) + "".join(
                        generator.choices(GIVEN, k=generator.choice((1, 2, 2)))
                    )
                else:
                    name = f"{generator.choice(FIRST_EN)} {generator.choice(LAST_EN)}"
                phone = f"1{generator.choice('3456789')}{generator.randrange(10**9):09d}"
                email = f"p{n}@example.com" if rnd() < 0.3 else ""
                petitioner = add(
                    "complaints_petitioner", pick_type(), name, "", phone, email, "", "", "",
                    _stamp(received),
                )  # fmt: skip
                petitioners.append(petitioner)
            department = department_of[category] if rnd() < 0.8 else pick_department()
            staff = handlers[department]
            handler_id, handler_name = generator.choice(staff)
            channel = pick_channel()

            # The lifecycle, as moments (seconds); a step after now has not happened yet.
            classified = received + lognorm(math.log(0.6 * hour), 0.8)
            assigned = classified + lognorm(math.log(0.7 * hour), 1.0)
            accepted = max(received + lognorm(math.log(3 * hour), 1.0), assigned + 60)
            handling = lognorm(math.log(2.5 * day), 0.7)
            if rnd() < 0.05:  # stuck: weeks or months
                handling *= lognorm(math.log(15), 0.6)
            replied = max(received + handling, accepted + hour)
            asked = answered_info = None
            if rnd() < 0.06:  # details missing: the clock waits for the petitioner
                asked = accepted + lognorm(math.log(4 * hour), 0.8)
                answered_info = asked + lognorm(math.log(day), 1.0)
                replied = max(replied, answered_info + hour) + (answered_info - asked)
            ending = rnd()
            early = ""
            if ending < 0.015:
                early, early_at = "rejected", classified
            elif ending < 0.025 and n > 100:
                early, early_at = "merged", classified
            elif ending < 0.03:
                early, early_at = "withdrawn", received + lognorm(math.log(day), 1.0)
            if early and early_at >= now:
                early = ""
            answered = not early and replied + 2 * hour < now and rnd() < 0.67
            rating = pick_rating() if answered else None
            satisfied = rating is not None and rating >= 3
            reopened = answered and not satisfied and rnd() < 0.6
            second_reply = replied + 2 * hour + lognorm(math.log(3 * day), 0.7)
            closed = (
                not early
                and replied < now
                and (answered or replied + 7 * day < now)
                and (not reopened or second_reply < now)
            )
            closed_at = second_reply if reopened else replied + (2 * hour if answered else 7 * day)
            resume = ""
            if early:
                status = early
            elif now < classified:
                status = "received"
            elif now < assigned:
                status = "classified"
            elif now < accepted:
                status = "assigned"
            elif asked is not None and asked <= now < answered_info:  # type: ignore[operator]
                status, resume = "needs_info", "in_progress"
            elif now < replied:
                status = "in_progress"
            elif reopened and now < second_reply:
                status = "reopened" if rnd() < 0.5 else "in_progress"
            elif not closed:
                status = "replied"
            else:
                status = "closed"
            is_open = status in ("received", "classified", "assigned", "needs_info")
            is_open = is_open or status in ("in_progress", "reopened")
            is_accepted = accepted < now and not early
            is_replied = replied < now and not early
            close_reason = ("survey" if answered else "no_response") if status == "closed" else ""
            cycle_due = received + 5 * day
            cycle_late = (replied if is_replied else now) > cycle_due and not early
            late_for = now - cycle_due
            supervision = ""
            if is_open and cycle_late:
                supervision = "red" if late_for > 10 * day else "yellow" if late_for > day else ""
            has_handler = (is_accepted or status == "assigned") and not early
            complaint = add(
                "complaints_complaint",
                tracking_code(n, received),
                MARKER,
                pick_kind(),
                channel,
                "",
                title,
                content,
                "",
                status,
                resume,
                priority,
                _stamp(received),
                _stamp(replied) if is_replied else None,
                _stamp(closed_at) if status == "closed" else None,
                _stamp(received),
                _stamp(min(now, replied)),
                1,
                categories[category],
                department,
                petitioner,
                "{}",
                "",
                "f",
                "f",
                supervision,
                close_reason,
                1 if reopened else 0,
                _stamp(cycle_due) if cycle_late else None,
                handler_id if has_handler else None,
                first_complaint + generator.randrange(n) if early == "merged" else None,
            )

            # The timeline.
            def event(
                kind: str, at: float, frm: str, to: str, actor: int | None, label: str = "system",
                **data: Any,
            ) -> None:  # fmt: skip
                # Called within this iteration only: add and complaint are this one's.
                add(  # noqa: B023
                    "complaints_event", kind, "" if actor else label, frm, to,
                    _payload(**data), _stamp(at), complaint, actor,  # noqa: B023
                )  # fmt: skip

            add(
                "complaints_event", "complaint.received", f"channel:{channel}", "", "received",
                "{}", _stamp(received), complaint, None,
            )  # fmt: skip
            was_classified = classified < now and not (early and early_at < classified)
            if was_classified:
                event("complaint.classified", classified, "received", "classified", None,
                      "routing", category=f"bench_{category}", priority=priority)  # fmt: skip
            if early:
                event(f"complaint.{early}", early_at,
                      "classified" if was_classified else "received", early, None,
                      reason="重复或不属于受理范围。" if early == "rejected" else "")  # fmt: skip
            if has_handler:
                event("complaint.assigned", assigned, "classified", "assigned", None,
                      "routing", department=department_code[department],
                      assignee=handler_name)  # fmt: skip
            if is_accepted:
                event("complaint.accepted", accepted, "assigned", "in_progress", handler_id)
            if asked is not None and asked < now and not early:
                event("complaint.info_requested", asked, "in_progress", "needs_info",
                      handler_id, question=generator.choice(QUESTIONS))  # fmt: skip
                if answered_info is not None and answered_info < now:
                    add(
                        "complaints_event", "complaint.info_supplied", "petitioner",
                        "needs_info", "in_progress",
                        _payload(details=generator.choice(ANSWERS)), _stamp(answered_info),
                        complaint, None,
                    )  # fmt: skip
            if is_accepted and rnd() < 0.3 and accepted + hour < now:
                event("complaint.note_added", accepted + hour, "", "", handler_id,
                      body=generator.choice(NOTES))  # fmt: skip
            if is_replied:
                body = generator.choice(REPLIES)
                event("complaint.replied", replied, "in_progress", "replied", handler_id,
                      body=body)  # fmt: skip
                reply = add(
                    "complaints_reply", body, _stamp(replied), _stamp(replied),
                    _stamp(replied), complaint, 0, "portal", "", 0, "",
                )  # fmt: skip
                add(
                    "complaints_survey", 1, f"{n:064x}", _stamp(replied),
                    _stamp(replied + 7 * day), _stamp(replied + 2 * hour) if answered else None,
                    "link" if answered else "", ("t" if satisfied else "f") if answered else None,
                    rating, "",
                    ("satisfied" if satisfied else "dissatisfied") if answered
                    else ("no_response" if replied + 7 * day < now else ""),
                    complaint, reply,
                )  # fmt: skip
                if status == "closed":
                    event("complaint.closed", closed_at, "replied", "closed", None)

            # The limits: accept and whole cycle for every complaint (the KPIs read them),
            # and the running limit of the stage an open complaint is in.
            def deadline(
                stage: str, basis: str, begin: float, due: float, state: str,
                breached: float | None = None, done: float | None = None,
                paused: float | None = None,
            ) -> None:  # fmt: skip
                warn = begin + 0.75 * (due - begin)
                add(  # noqa: B023
                    "sla_deadline", stage, basis, _stamp(begin), _stamp(warn), _stamp(due),
                    state, _stamp(paused) if paused else None,
                    (due - paused) if paused else None, 0,
                    _stamp(breached) if breached else None, 0, 0,
                    _stamp(done) if done else None, "f", _stamp(begin), complaint,  # noqa: B023
                )  # fmt: skip

            finished = "cancelled" if early else None
            accept_due = received + 24 * hour
            accept_late = (accepted if is_accepted else now) > accept_due
            deadline(
                "accept", "calendar", received, accept_due,
                finished or (("missed" if accept_late else "met") if is_accepted else "open"),
                accept_due if accept_late and not early else None,
                accepted if is_accepted else None,
            )  # fmt: skip
            waiting = status == "needs_info"
            deadline(
                "cycle", "business", received, cycle_due,
                finished or (("missed" if cycle_late else "met") if is_replied
                             else "paused" if waiting else "open"),
                cycle_due if cycle_late else None,
                replied if is_replied else None,
                asked if waiting else None,
            )  # fmt: skip
            if status == "received":
                deadline("classify", "calendar", received, received + hour, "open")
            elif status == "classified":
                deadline("assign", "calendar", classified, classified + 0.5 * hour, "open")
            elif status == "needs_info" and asked is not None:
                deadline("contact", "calendar", asked, asked + 2 * hour, "open")
            elif status == "in_progress":
                deadline("reply", "calendar", accepted, accepted + 36 * hour, "open")
            elif status == "reopened":
                deadline("accept", "calendar", replied + 2 * hour, replied + 26 * hour, "open")
        with transaction.atomic():
            tables.copy()
        ids = tables.next_id
        done = min(count, first + batch)
        print(f"  loaded {done:,} complaints ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        for table in _Tables.COLUMNS:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}"  # noqa: S608
            )
            cursor.execute(f"VACUUM ANALYZE {table}")
    return first_day, today - timedelta(days=1)
