"""Roles, what each may do, and the principal a request or command acts as."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from jiaowei.errors import M_, Message


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    COMMISSION_STAFF = "commission_staff"
    DISTRICT_STAFF = "district_staff"
    UNIT_REPORTER = "unit_reporter"
    VIEWER = "viewer"


class Action(StrEnum):
    VIEW = "view"
    REGISTRY_WRITE = "registry.write"
    DATA_CAPTURE = "data.capture"
    DATA_APPROVE = "data.approve"
    METADATA_WRITE = "metadata.write"
    MANAGE_USERS = "users.manage"
    # district staff: the unit reporters whose scopes lie inside their own district (see auth.admin)
    MANAGE_REPORTERS = "users.reporters"
    AUDIT_READ = "audit.read"
    # plans: deploy tasks, review their progress, run appraisals, the ledger and the risk register
    PLANS_MANAGE = "plans.manage"
    # plans: report progress on the tasks, measures and risks of one's own units
    PLANS_REPORT = "plans.report"
    # reports: edit, create and reset the report templates
    REPORTS_WRITE = "reports.write"


# What a role and an action are called in messages a person reads (the codes stay in the API's fields).
ROLE_LABELS: dict[str, Message] = {
    "administrator": M_("Administrator"),
    "commission_staff": M_("Commission staff"),
    "district_staff": M_("District staff"),
    "unit_reporter": M_("Unit reporter"),
    "viewer": M_("Viewer"),
}
ACTION_LABELS: dict[str, Message] = {
    "view": M_("view data"),
    "registry.write": M_("change the unit registry"),
    "data.capture": M_("enter data"),
    "data.approve": M_("approve data"),
    "metadata.write": M_("change the metadata"),
    "users.manage": M_("manage users"),
    "users.reporters": M_("manage unit reporters"),
    "audit.read": M_("read the audit log"),
    "plans.manage": M_("manage the key tasks"),
    "plans.report": M_("report on key tasks"),
    "reports.write": M_("edit the report templates"),
}


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMINISTRATOR: frozenset(Action),
    Role.COMMISSION_STAFF: frozenset(
        {
            Action.VIEW, Action.REGISTRY_WRITE, Action.DATA_CAPTURE, Action.DATA_APPROVE,
            Action.METADATA_WRITE, Action.AUDIT_READ, Action.PLANS_MANAGE, Action.PLANS_REPORT,
            Action.REPORTS_WRITE,
        }
    ),
    Role.DISTRICT_STAFF: frozenset(
        {Action.VIEW, Action.REGISTRY_WRITE, Action.DATA_CAPTURE, Action.DATA_APPROVE,
         Action.MANAGE_REPORTERS, Action.PLANS_REPORT}
    ),
    Role.UNIT_REPORTER: frozenset({Action.VIEW, Action.DATA_CAPTURE, Action.PLANS_REPORT}),
    Role.VIEWER: frozenset({Action.VIEW}),
}

WRITE_ACTIONS = frozenset({
    Action.REGISTRY_WRITE, Action.DATA_CAPTURE, Action.DATA_APPROVE, Action.METADATA_WRITE,
    Action.MANAGE_USERS, Action.MANAGE_REPORTERS, Action.PLANS_MANAGE, Action.PLANS_REPORT,
    Action.REPORTS_WRITE,
})


@dataclass(frozen=True)
class Principal:
    """Who is acting. Scopes are unit ids; each covers the unit and its descendants.

    ``capture`` units are where the principal may write; ``view`` units where they may
    read (capture units are readable too). An administrator is not limited by scope.
    """

    user_id: int | None
    username: str
    role: Role
    capture: frozenset[int] = field(default_factory=frozenset)
    view: frozenset[int] = field(default_factory=frozenset)
    display_name: str = ""
    language: str | None = None
    must_change_password: bool = False  # after a reset: only the change of password is allowed

    @property
    def unlimited(self) -> bool:
        return self.role is Role.ADMINISTRATOR

    def may(self, action: Action) -> bool:
        return action in ROLE_ACTIONS[self.role]

    def scope_for(self, action: Action) -> frozenset[int]:
        return self.capture if action in WRITE_ACTIONS else self.capture | self.view


SYSTEM = Principal(user_id=None, username="system", role=Role.ADMINISTRATOR)
