"""Who hears about a deadline: the people behind each ``Recipients`` value.

``Directory`` loads the role holders once, so a sweep over thousands of deadlines asks the
database a handful of questions, not one per deadline. Nobody is ever escalated into the
void: a level whose people do not exist falls through to the supervisors, then to the
administrators.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from accounts.models import User
from accounts.roles import Role
from routing.models import Department
from sla.models import Recipients, Stage


class Directory:
    def __init__(self) -> None:
        users = (
            User.objects.filter(is_active=True)
            .prefetch_related("groups")
            .only("pk", "username", "email", "phone", "language", "department_id", "is_away")
        )
        self.users: dict[int, User] = {u.pk: u for u in users}
        self.by_role: dict[str, list[User]] = defaultdict(list)
        for user in self.users.values():
            for group in user.groups.all():
                self.by_role[group.name].append(user)
        self.heads: dict[int, list[User]] = defaultdict(list)
        for user in self.by_role[Role.DEPARTMENT_HEAD.value]:
            if user.department_id is not None:
                self.heads[user.department_id].append(user)
        self.parent: dict[int, int | None] = dict(Department.objects.values_list("pk", "parent_id"))
        self.on_call: dict[int, list[User]] = defaultdict(list)
        for department_id, user_id in Department.on_call.through.objects.values_list(
            "department_id", "user_id"
        ):
            if user_id in self.users:
                self.on_call[department_id].append(self.users[user_id])
        self.admins = [u for u in self.users.values() if u.is_superuser] + self.by_role[
            Role.ADMINISTRATOR.value
        ]

    def _chain(self, department_id: int | None) -> list[int]:
        chain: list[int] = []
        while department_id is not None and department_id not in chain:
            chain.append(department_id)
            department_id = self.parent.get(department_id)
        return chain

    def heads_of(self, department_id: int | None) -> list[User]:
        """The department's heads, else the nearest parent department's."""
        for pk in self._chain(department_id):
            if self.heads[pk]:
                return self.heads[pk]
        return []

    def on_call_for(self, department_id: int | None) -> list[User]:
        """On-call leaders of the department and every department above it."""
        found = [u for pk in self._chain(department_id) for u in self.on_call[pk]]
        if not found:  # no department yet, or none on call there: every top-level one
            found = [
                u for pk, parent in self.parent.items() if parent is None for u in self.on_call[pk]
            ]
        return found

    def resolve(
        self,
        recipients: str,
        *,
        department_id: int | None,
        assignee_id: int | None,
    ) -> list[User]:
        people: list[User] = []
        if recipients == Recipients.ASSIGNEE and assignee_id in self.users:
            people = [self.users[assignee_id]]
        if recipients in (Recipients.ASSIGNEE, Recipients.HEAD) and not people:
            people = self.heads_of(department_id)
            if not people and department_id is None:
                people = self.by_role[Role.DISPATCHER.value]
        elif recipients == Recipients.DISPATCHER:
            people = self.by_role[Role.DISPATCHER.value]
        elif recipients == Recipients.ON_CALL:
            people = self.on_call_for(department_id)
        if not people or recipients == Recipients.SUPERVISOR:
            people = self.by_role[Role.SUPERVISOR.value] or self.admins
        return _present(people)

    def warned(
        self, stage: str, *, department_id: int | None, assignee_id: int | None
    ) -> list[User]:
        """Who is warned before ``stage``'s limit passes: whoever must act on it."""
        if stage in (Stage.CLASSIFY, Stage.ASSIGN):
            return self.resolve(Recipients.DISPATCHER, department_id=None, assignee_id=None)
        if stage == Stage.REVIEW:
            return self.resolve(Recipients.SUPERVISOR, department_id=None, assignee_id=None)
        if stage == Stage.CONTACT:
            clerks = self.by_role[Role.INTAKE_CLERK.value]
            return _present(clerks) or self.resolve(
                Recipients.DISPATCHER, department_id=None, assignee_id=None
            )
        return self.resolve(
            Recipients.ASSIGNEE, department_id=department_id, assignee_id=assignee_id
        )


def _present(people: Iterable[User]) -> list[User]:
    """Each person once; those away are left out unless everyone is away."""
    unique = list({u.pk: u for u in people}.values())
    here = [u for u in unique if not u.is_away]
    return here or unique
