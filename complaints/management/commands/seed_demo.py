"""Demo data: departments, categories, a user for every role, ~50 complaints.

Idempotent: run it again and nothing is duplicated (rows are found by their codes, users by
username, complaints by their demo reference). Complaints are walked through the real
services, so their timelines are what the system would have written.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

import routing
from accounts.models import User
from accounts.roles import Role, create_missing_role_groups
from complaints import approvals, services
from complaints.models import ApprovalRule, Complaint, Reply, ReplyTemplate, Survey
from routing.models import Category, ClassifierModel, Department, KeywordRule, RoutingRule
from routing.tasks import retrain_classifier
from sla import services as sla_services
from sla.models import Deadline, Stage

DEMO_PASSWORD = "sutong-demo"

DEPARTMENTS = [
    ("petition_office", "信访办公室", "Petition Office"),
    ("urban_management", "城市管理局", "Urban Management Bureau"),
    ("market_regulation", "市场监督管理局", "Market Regulation Bureau"),
    ("housing", "住房和城乡建设局", "Housing and Construction Bureau"),
    ("transport", "交通运输局", "Transport Bureau"),
    ("social_security", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
]

CATEGORIES = [
    ("service_quality", "服务质量", "Service quality", "market_regulation"),
    ("efficiency", "办事效率", "Efficiency", "social_security"),
    ("facilities", "设施设备", "Facilities", "urban_management"),
    ("staff_conduct", "工作作风", "Staff conduct", "petition_office"),
    ("policy_inquiry", "政策咨询", "Policy inquiry", "social_security"),
    ("other", "其他", "Other", None),
]

# username, role, department, full name (family, given)
USERS = [
    ("clerk", Role.INTAKE_CLERK, "petition_office", "王", "受理"),
    ("dispatcher", Role.DISPATCHER, "petition_office", "李", "分派"),
    ("handler", Role.HANDLER, "urban_management", "张", "承办"),
    ("handler2", Role.HANDLER, "market_regulation", "陈", "办理"),
    ("head", Role.DEPARTMENT_HEAD, "urban_management", "刘", "主任"),
    ("supervisor", Role.SUPERVISOR, "petition_office", "赵", "督办"),
    ("auditor", Role.AUDITOR, None, "孙", "审计"),
    ("admin", Role.ADMINISTRATOR, None, "周", "管理"),
]


@dataclass(frozen=True)
class Sample:
    title: str
    content: str
    category: str
    kind: str = Complaint.Kind.COMPLAINT
    location: str = ""


SAMPLES = [
    Sample(
        "小区门口路灯损坏",
        "幸福路88号小区南门外的三盏路灯已经坏了两周，晚上漆黑一片，老人孩子出行很不安全，请尽快维修。",
        "facilities",
        location="幸福路88号南门",
    ),
    Sample(
        "窨井盖缺失",
        "人民路与建设路交叉口东侧人行道上的窨井盖丢失，只用一个纸箱盖着，随时可能有人掉下去。",
        "facilities",
        location="人民路与建设路交叉口",
    ),
    Sample(
        "夜间施工噪音扰民",
        "滨江花园旁边的工地每天晚上十一点以后还在打桩，严重影响周边居民休息，多次反映无果。",
        "facilities",
        location="滨江花园东侧工地",
    ),
    Sample(
        "超市销售过期食品",
        "6月3日在东方超市购买的酸奶已过保质期两天，收银员说不能退，要求处理并核查该超市。",
        "service_quality",
    ),
    Sample(
        "餐馆后厨卫生差",
        "老街口的一家面馆后厨污水横流，垃圾桶不加盖，苍蝇很多，希望市场监管部门检查。",
        "service_quality",
    ),
    Sample(
        "社保转移手续办理太慢",
        "我从外省调回本市工作，社保关系转移申请提交已经45天了还没有办完，每次打电话都说在审核。",
        "efficiency",
    ),
    Sample(
        "窗口排队时间过长",
        "市民中心医保窗口只开两个，排队两个多小时，建议增加窗口或开通网上预约。",
        "efficiency",
        kind=Complaint.Kind.SUGGESTION,
    ),
    Sample(
        "工作人员态度恶劣",
        "在不动产登记大厅咨询时，3号窗口工作人员不耐烦，还说“看不懂就别来办”，希望严肃处理。",
        "staff_conduct",
    ),
    Sample(
        "咨询灵活就业人员医保缴费标准",
        "我是灵活就业人员，想了解今年医保缴费基数和缴费方式，是否可以按月缴纳？",
        "policy_inquiry",
        kind=Complaint.Kind.INQUIRY,
    ),
    Sample(
        "公交车长期不按时发车",
        "12路公交早高峰经常30分钟不来一班，站牌写的是10分钟一班，上班族意见很大。",
        "service_quality",
    ),
    Sample(
        "出租车拒载",
        "昨晚九点在火车站出租车排队点，车牌号为某A·T1234的出租车以路途太近为由拒载。",
        "service_quality",
    ),
    Sample(
        "建议增设非机动车停车区",
        "地铁2号线中心广场站出口共享单车乱停乱放，建议划定非机动车停放区。",
        "facilities",
        kind=Complaint.Kind.SUGGESTION,
    ),
    Sample(
        "物业费上涨未公示",
        "金色家园物业今年物业费每平米上涨0.5元，没有召开业主大会，也没有公示依据。",
        "other",
    ),
    Sample(
        "商品房延期交房",
        "我购买的城南壹号院原定去年12月交房，至今未交付，开发商不给说法，请住建部门介入。",
        "other",
    ),
    Sample(
        "求助：老人走失",
        "我父亲有阿尔茨海默症，今天上午在公园走失，已报警，请求城管和社区协助寻找。",
        "other",
        kind=Complaint.Kind.HELP,
    ),
    Sample(
        "举报违规收费",
        "某驾校在报名费之外另收“考试保过费”3000元，没有发票，涉嫌违规收费。",
        "service_quality",
        kind=Complaint.Kind.REPORT,
    ),
    Sample(
        "表扬社保中心工作人员",
        "社保中心的李女士耐心帮我老母亲办理了养老金认证，还主动上门，特此表扬。",
        "staff_conduct",
        kind=Complaint.Kind.PRAISE,
    ),
    Sample(
        "道路积水严重",
        "每次下雨，解放路地下通道积水超过半米，车辆熄火，行人无法通行，排水设施需要改造。",
        "facilities",
        location="解放路地下通道",
    ),
    Sample(
        "垃圾清运不及时",
        "光明小区垃圾站已经三天没有清运，气味很大，夏天容易滋生蚊虫。",
        "facilities",
        location="光明小区垃圾站",
    ),
    Sample(
        "网上办事系统经常崩溃",
        "政务服务网在办理营业执照变更时多次提示系统错误，材料需要反复上传。",
        "efficiency",
    ),
    Sample(
        "Broken pedestrian signal",
        "The pedestrian light at Riverside Road and 5th Street has been stuck on red for a week; people cross against it.",
        "facilities",
        location="Riverside Rd / 5th St",
    ),
    Sample(
        "Question about residence permit renewal",
        "I am a foreign teacher. Which documents do I need to renew my residence permit, and can I apply online?",
        "policy_inquiry",
        kind=Complaint.Kind.INQUIRY,
    ),
    Sample(
        "工资被拖欠",
        "我们20多名工人在某建筑工地干了三个月，老板至今拖欠工资共计40多万元，请求帮助讨薪。",
        "policy_inquiry",
        kind=Complaint.Kind.HELP,
    ),
    Sample(
        "燃气管道疑似泄漏",
        "和平里3号楼楼道里有明显的燃气味，已经持续一天，担心发生危险，请立即派人检查！",
        "facilities",
        location="和平里3号楼",
    ),
    Sample(
        "菜市场缺斤短两",
        "中心菜市场有几家摊位电子秤不准，买一斤肉少了一两多，希望加强计量检查。",
        "service_quality",
    ),
]

PETITIONERS = [
    ("张伟", "13812345678", "zhangwei@example.com"),
    ("王芳", "13987654321", ""),
    ("李娜", "15011112222", "lina@example.cn"),
    ("刘强", "18600001111", ""),
    ("陈静", "13700002222", "chenjing@example.com"),
    ("Emily Carter", "", "emily.carter@example.org"),
    ("赵敏", "13655556666", ""),
    ("", "", ""),  # anonymous
]

REPLY_TEMPLATES = [
    (
        "已办结（通用）",
        None,
        "zh-hans",
        "您好！您于{received}反映的“{title}”（查询码 {code}）已由{department}核实处理。"
        "处理情况如下：\n\n（请写明核查情况和处理结果）\n\n感谢您的理解与监督。",
    ),
    (
        "设施已修复",
        "facilities",
        "zh-hans",
        "您好！您反映的“{title}”（{code}）已安排维修人员现场处理，设施已恢复正常使用。"
        "如仍有问题，请通过原渠道告知。",
    ),
    (
        "Resolved (general)",
        None,
        "en",
        "Dear petitioner, the matter you reported on {received}, “{title}” ({code}), has been "
        "looked into by the {department}. What was found and done:\n\n\n"
        "Thank you for bringing it to our attention.",
    ),
]

# How far each demo complaint goes; 50 in all, spread over every state.
TARGET_STATES = (
    ["received"] * 6
    + ["needs_info"] * 3
    + ["classified"] * 5
    + ["assigned"] * 6
    + ["in_progress"] * 8
    + ["replied"] * 5
    + ["closed"] * 6
    + ["reopened"] * 2
    + ["archived"] * 3
    + ["rejected"] * 2
    + ["merged"] * 2
    + ["withdrawn"] * 2
)
CHANNELS = [c.value for c in Complaint.Channel if c.value not in ("api", "open311")]


class Command(BaseCommand):
    help = (
        "Load demo departments, categories, users for every role and ~50 complaints (idempotent)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--skip-training",
            action="store_true",
            help="do not ask the worker to train the classifier on the demo corpus",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        create_missing_role_groups()
        with transaction.atomic():
            departments = self._departments()
            categories = self._categories(departments)
            users = self._users(departments)
            rules = self._routing(categories, departments)
            self._reply_templates(categories)
            self._approval_rules(categories)
        model = "not trained (--skip-training)" if options["skip_training"] else self._classifier()
        created = self._complaints(categories, departments, users)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(departments)} departments, {len(categories)} categories, "
                f"{len(users)} users (password “{DEMO_PASSWORD}”), {rules} keyword rules, "
                f"{created} new complaints, classifier {model}."
            )
        )

    def _departments(self) -> dict[str, Department]:
        result = {}
        for code, zh, en in DEPARTMENTS:
            result[code], _ = Department.objects.get_or_create(
                code=code, defaults={"name_zh": zh, "name_en": en}
            )
        return result

    def _categories(self, departments: dict[str, Department]) -> dict[str, Category]:
        result = {}
        for code, zh, en, department in CATEGORIES:
            result[code], _ = Category.objects.get_or_create(
                code=code,
                defaults={
                    "name_zh": zh,
                    "name_en": en,
                    "default_department": departments.get(department or ""),
                },
            )
        return result

    def _routing(self, categories: dict[str, Category], departments: dict[str, Department]) -> int:
        """Keyword rules from routing/data, a routing rule, and assignment strategies."""
        path = Path(routing.__file__).parent / "data" / "keyword_rules.json"
        for rule in json.loads(path.read_text(encoding="utf-8")):
            KeywordRule.objects.get_or_create(
                phrase=rule["phrase"],
                category=categories.get(rule["category"] or ""),
                defaults={
                    "weight": rule["weight"],
                    "language": rule["language"],
                    "priority_effect": rule["priority_effect"],
                    "is_sensitive": rule["is_sensitive"],
                },
            )
        RoutingRule.objects.get_or_create(
            name="公交 → 交通运输局",
            defaults={
                "order": 10,
                "category": categories["service_quality"],
                "location_keywords": "公交\n出租车\nbus\ntaxi",
                "department": departments["transport"],
            },
        )
        for code, strategy in (
            ("urban_management", Department.Assignment.ROUND_ROBIN),
            ("market_regulation", Department.Assignment.LEAST_LOADED),
        ):
            Department.objects.filter(code=code, assignment=Department.Assignment.MANUAL).update(
                assignment=strategy
            )
        return KeywordRule.objects.count()

    def _reply_templates(self, categories: dict[str, Category]) -> None:
        for name, category, language, body in REPLY_TEMPLATES:
            ReplyTemplate.objects.get_or_create(
                name=name,
                defaults={
                    "category": categories.get(category or ""),
                    "language": language,
                    "body": body,
                },
            )

    def _approval_rules(self, categories: dict[str, Category]) -> None:
        # Replies about staff conduct are read by the head even when the matter is routine.
        ApprovalRule.objects.get_or_create(
            name="工作人员作风类答复须经部门负责人审核",
            defaults={"category": categories.get("staff_conduct"), "levels": 1},
        )

    def _classifier(self) -> str:
        """Have the worker train on the bilingual demo corpus once.

        Training takes about a minute, so it runs in the background; until the model is
        ready, routing decides with the keyword rules alone.
        """
        active = ClassifierModel.objects.filter(is_active=True).first()
        if active is not None:
            return f"v{active.version}"
        transaction.on_commit(retrain_classifier.delay)
        return "being trained by the worker"

    def _users(self, departments: dict[str, Department]) -> dict[str, User]:
        result = {}
        for number, (username, role, department, family, given) in enumerate(USERS, start=1):
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "last_name": family,
                    "first_name": given,
                    "email": f"{username}@sutong.example",
                    "phone": f"1380000{number:04d}",
                    "department": departments.get(department or ""),
                    "is_staff": role == Role.ADMINISTRATOR,
                    "is_superuser": role == Role.ADMINISTRATOR,
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get(name=role.value))
            result[username] = user
        # On-call leaders, alerted at once about critical complaints.
        departments["urban_management"].on_call.add(result["head"])
        departments["petition_office"].on_call.add(result["supervisor"])
        return result

    def _complaints(
        self,
        categories: dict[str, Category],
        departments: dict[str, Department],
        users: dict[str, User],
    ) -> int:
        rng = random.Random(2026)  # the same demo every time
        now = timezone.now()
        created = 0
        first_open: Complaint | None = None
        for number, target in enumerate(TARGET_STATES, start=1):
            ref = f"demo-{number:03d}"
            sample = SAMPLES[(number - 1) % len(SAMPLES)]
            existing = Complaint.objects.filter(external_ref=ref).first()
            if existing:
                first_open = first_open or existing
                continue
            name, phone, email = PETITIONERS[(number - 1) % len(PETITIONERS)]
            petitioner = (
                services.PetitionerDetails(name=name, phone=phone, email=email)
                if name or phone or email
                else None
            )
            submission = services.submit_complaint(
                title=sample.title,
                content=sample.content,
                kind=sample.kind,
                channel=CHANNELS[(number - 1) % len(CHANNELS)],
                petitioner=petitioner,
                location=sample.location,
                external_ref=ref,
                received_at=now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600)),
                actor=users["clerk"],
            )
            complaint = submission.complaint
            first_open = first_open or complaint
            category = categories[sample.category]
            # Handled in departments the demo users belong to, so every login sees work.
            department = departments["urban_management" if number % 3 else "market_regulation"]
            handler = users["handler" if department.code == "urban_management" else "handler2"]
            priority = "urgent" if number % 7 == 0 else "normal"
            self._walk(
                complaint, target, category, department, handler, priority, users, first_open
            )
            created += 1
        if created:
            self._extension_request(users)
        return created

    def _extension_request(self, users: dict[str, User]) -> None:
        """A handler waits for a test report and asks the head for more time."""
        deadline = (
            Deadline.objects.filter(
                stage=Stage.CYCLE,
                state=Deadline.State.OPEN,
                complaint__status=Complaint.Status.IN_PROGRESS,
                complaint__assignee=users["handler"],
            )
            .order_by("due_at")
            .first()
        )
        if deadline is not None:
            sla_services.request_extension(
                deadline_id=deadline.pk,
                until=max(deadline.due_at, timezone.now()) + timedelta(days=5),
                reason="需要等待第三方检测报告，预计五个工作日后出具。",
                actor=users["handler"],
            )

    def _walk(
        self,
        complaint: Complaint,
        target: str,
        category: Category,
        department: Department,
        handler: User,
        priority: str,
        users: dict[str, User],
        first: Complaint,
    ) -> None:
        """Take a fresh complaint to ``target`` through the services, as staff would."""
        pk = complaint.pk
        dispatcher, supervisor = users["dispatcher"], users["supervisor"]
        head = users["head"] if department.code == "urban_management" else supervisor
        if target == "received":
            return
        if target == "needs_info":
            services.request_info(
                complaint_id=pk, question="请补充具体地址和联系电话。", actor=users["clerk"]
            )
            return
        if target == "withdrawn":
            services.withdraw(
                complaint_id=pk, reason="问题已自行解决，申请撤回。", actor=users["clerk"]
            )
            return
        if target == "rejected":
            services.reject(
                complaint_id=pk, reason="不属于本机关受理范围，已告知向法院起诉。", actor=dispatcher
            )
            return
        if target == "merged" and first.pk != pk and first.is_open:
            services.merge(complaint_id=pk, into_id=first.pk, actor=dispatcher)
            return
        services.classify(complaint_id=pk, category=category, priority=priority, actor=dispatcher)
        if target in ("classified", "merged"):
            return
        services.assign(complaint_id=pk, department=department, assignee=handler, actor=dispatcher)
        if target == "assigned":
            return
        services.accept(complaint_id=pk, actor=handler)
        if target != "in_progress" or pk % 2:
            services.record_plan(
                complaint_id=pk, plan="当日现场核查，三个工作日内整改并回复。", actor=handler
            )
        if target == "in_progress":
            return
        services.draft_reply(
            complaint_id=pk,
            body="您好，您反映的问题已转交相关部门现场核查并处理完毕，感谢您的监督。",
            actor=handler,
        )
        while not approvals.is_approved(draft := Reply.objects.get(complaint_id=pk, sent_at=None)):
            approver = head if draft.approved_level == 0 else supervisor
            services.approve_reply(complaint_id=pk, actor=approver)
        services.send_reply(complaint_id=pk, actor=handler)
        if target == "replied":
            return
        survey = Survey.objects.get(complaint_id=pk, outcome="")
        if target == "reopened":
            services.answer_survey(
                survey_id=survey.pk,
                resolved=False,
                rating=2,
                comment="问题仍未解决，路灯晚上还是不亮。",
                actor_label="petitioner",
            )
            return
        services.answer_survey(
            survey_id=survey.pk,
            resolved=True,
            rating=5 if pk % 3 else 4,
            comment="处理及时，谢谢。" if pk % 2 else "",
            actor_label="petitioner",
        )
        if target == "archived":
            services.archive(complaint_id=pk, actor=dispatcher)
