"""Dashboards: reading them and writing them (service and queries of ``analytics.store``).

A dashboard is a user's own (``owner``) or shared: with a role, with whoever may view a unit, or
with everyone. A user sees their own dashboards and the shared ones meant for them; nobody sees
another user's own dashboards, so asking for one answers "not found". Only the owner changes
their own; shared dashboards are changed by those who may write metadata (administrators and
commission staff). A user's home dashboard (``home``) is created the first time they save an item
to "home".

Items keep what they show, not the figures: a pivot or chart item keeps the pivot page's query
string, an indicator tile keeps the indicator, unit and period codes. They are computed afresh
whenever they are shown, with the viewer's own scope. Every write is audited; nothing commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from jiaowei.analytics import request as analytics_request
from jiaowei.analytics import service as analytics
from jiaowei.analytics.store import dashboard_items, dashboards
from jiaowei.audit import service as audit
from jiaowei.auth.model import Action, Principal, Role
from jiaowei.auth.scope import require_action, require_unit
from jiaowei.db.kept import kept_rows
from jiaowei.errors import M_, Conflict, NotFound, PermissionDenied, Problem, ValidationError
from jiaowei.indicators import periods as pe
from jiaowei.indicators.model import CODE, CODE_EXPECTED, new_uid
from jiaowei.registry import queries as registry
from jiaowei.text import text_problem

HOME = "home"
KINDS = ("pivot", "chart", "indicator")
CHART_TYPES = ("line", "bar", "stacked", "pie", "yoy")
WIDTHS = ("half", "full")
MAX_ITEMS = 50
MAX_QUERY = 2000
MAX_NAME = 230


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Item:
    """One item of a dashboard, as saved (what it shows is computed when it is shown)."""

    uid: str
    position: int
    kind: str
    title: str
    query: str
    chart_type: str | None
    indicator: str | None
    unit: str | None
    period: str | None
    width: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """DHIS2's dashboard item shape (``id`` is the uid), jiaowei's kinds."""
        return {"id": self.uid, "kind": self.kind, "position": self.position, "title": self.title,
                "query": self.query or None, "chartType": self.chart_type, "indicator": self.indicator,
                "orgUnit": self.unit, "period": self.period, "width": self.width, "created": self.created_at}


@dataclass(frozen=True)
class Dashboard:
    """A dashboard with its items in order, and whether the principal who read it may change it."""

    id: int
    uid: str
    code: str
    name_zh: str
    name_en: str
    owner: str | None
    role: str | None
    unit: str | None
    home: bool
    created_by: str
    created_at: str
    updated_at: str
    editable: bool
    items: list[Item] = field(default_factory=list)

    def name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name_zh

    def as_dict(self) -> dict[str, Any]:
        """DHIS2's dashboard shape (``id`` is the uid, ``dashboardItems``), names in both languages."""
        return {"id": self.uid, "code": self.code, "name": self.name_zh, "name_zh": self.name_zh,
                "name_en": self.name_en, "owner": self.owner, "role": self.role, "orgUnit": self.unit,
                "home": self.home, "createdBy": self.created_by, "created": self.created_at,
                "lastUpdated": self.updated_at, "editable": self.editable,
                "dashboardItems": [item.as_dict() for item in self.items]}


@dataclass(frozen=True)
class ItemSpec:
    """What an item is to show, as a form or a JSON body gives it."""

    kind: str
    title: str = ""
    query: str = ""
    chart_type: str | None = None
    indicator: str | None = None
    unit: str | None = None
    period: str | None = None
    width: str = "half"


# ---------------------------------------------------------------- reading


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _item(row: Any) -> Item:
    return Item(uid=row.uid, position=row.position, kind=row.kind, title=row.title, query=row.query,
                chart_type=row.chart_type, indicator=row.indicator, unit=row.unit, period=row.period,
                width=row.width, created_at=_stamp(row.created_at))


def _visible(conn: Connection, principal: Principal, row: Any) -> bool:
    """Whether the principal sees the dashboard: their own, or shared with them (or, for those who
    may write metadata and so keep shared dashboards, shared with any role)."""
    if row.owner is not None:
        return bool(row.owner == principal.username)
    if row.role is not None and row.role != principal.role.value and not principal.may(Action.METADATA_WRITE):
        return False  # those who keep shared dashboards see those shared with other roles too
    return row.unit_id is None or _may_view_unit(conn, principal, row.unit_id)


def _may_view_unit(conn: Connection, principal: Principal, unit_id: int) -> bool:
    try:
        require_unit(conn, principal, Action.VIEW, unit_id, registry.today(), "")
    except (NotFound, PermissionDenied):
        return False
    return True


def _editable(principal: Principal, row: Any) -> bool:
    if row.owner is not None:
        return bool(row.owner == principal.username)
    return principal.may(Action.METADATA_WRITE)


def _dashboard(conn: Connection, principal: Principal, row: Any, *, items: bool = True) -> Dashboard:
    found: list[Item] = []
    if items:
        i = dashboard_items
        found = [_item(r) for r in conn.execute(
            select(i).where(i.c.dashboard_id == row.id).order_by(i.c.position, i.c.id))]
    unit = registry.codes_of(conn, [row.unit_id]).get(row.unit_id) if row.unit_id is not None else None
    return Dashboard(id=row.id, uid=row.uid, code=row.code, name_zh=row.name_zh, name_en=row.name_en,
                     owner=row.owner, role=row.role, unit=unit, home=bool(row.home),
                     created_by=row.created_by, created_at=_stamp(row.created_at),
                     updated_at=_stamp(row.updated_at),
                     editable=_editable(principal, row), items=found)


def list_dashboards(conn: Connection, *, principal: Principal) -> list[Dashboard]:
    """The principal's own dashboards (the home one first), then those shared with them, by name (a
    GET's from what the process keeps under the ``dashboards`` stamp: decision 0023)."""
    require_action(principal, Action.VIEW)
    d = dashboards
    rows = kept_rows(conn, "dashboards", f"dashboards.of:{principal.username}", (
        select(d).where(or_(d.c.owner == principal.username, d.c.owner.is_(None)))
        .order_by(d.c.owner.is_(None), d.c.home.desc(), d.c.name_zh, d.c.id)))
    return [_dashboard(conn, principal, r) for r in rows if _visible(conn, principal, r)]


def _row(conn: Connection, principal: Principal, ref: str) -> Any:
    """The dashboard ``ref`` names (uid, code, or "home": the principal's own home dashboard)."""
    require_action(principal, Action.VIEW)
    d = dashboards
    if ref == HOME:
        query = select(d).where(d.c.owner == principal.username, d.c.home.is_(True))
    else:
        query = select(d).where(or_(d.c.uid == ref, d.c.code == ref))
    row = conn.execute(query.order_by(d.c.id).limit(1)).first()
    if row is None or not _visible(conn, principal, row):
        raise NotFound(M_("No dashboard {ref!r}.", ref=ref), [
            Problem("no such dashboard", field="dashboard", value=ref,
                    expected="the id or code of a dashboard you may see")])
    return row


def get_dashboard(conn: Connection, *, principal: Principal, dashboard: str) -> Dashboard:
    """One dashboard the principal may see, by uid or code ("home": their home dashboard)."""
    return _dashboard(conn, principal, _row(conn, principal, dashboard))


def home_dashboard(conn: Connection, *, principal: Principal) -> Dashboard | None:
    """The principal's home dashboard, or None while they have saved nothing to it."""
    try:
        return get_dashboard(conn, principal=principal, dashboard=HOME)
    except NotFound:
        return None


# ---------------------------------------------------------------- checking input


def _invalid(message: str, problems: list[Problem]) -> ValidationError:
    return ValidationError(message, problems)


def _name_problems(name_zh: str | None, name_en: str | None) -> list[Problem]:
    problems = []
    for name, value in (("name_zh", name_zh), ("name_en", name_en)):
        if value is None:
            continue
        if not value.strip() or len(value) > MAX_NAME:
            problems.append(Problem("a name is required", field=name, value=value,
                                    expected=M_("a name of 1 to {most} characters", most=MAX_NAME)))
        elif bad := text_problem(value, field=name):
            problems.append(bad)
    return problems


def _sharing(conn: Connection, principal: Principal, role: str | None, unit: str | None) -> int | None:
    """The unit id a shared dashboard is for (None: none), once role and unit are checked."""
    problems = []
    if role is not None and role not in {r.value for r in Role}:
        problems.append(Problem("no such role", field="role", value=role,
                                expected=", ".join(r.value for r in Role)))
    unit_id = None
    if unit is not None:
        unit_id = registry.id_of(conn, unit)
        if unit_id is None or not _may_view_unit(conn, principal, unit_id):
            problems.append(Problem("no such unit", field="orgUnit", value=unit,
                                    expected="the code of a unit you may view"))
    if problems:
        raise _invalid("The dashboard cannot be shared so.", problems)
    return unit_id


def normalised_query(text: str) -> str:
    """The query string of a pivot: a whole ``/analytics?…`` address is cut to what follows ``?``."""
    text = (text or "").strip()
    if "?" in text:
        text = urlsplit(text).query
    return text.lstrip("?")


def _query_problems(conn: Connection, principal: Principal, spec: ItemSpec) -> list[Problem]:
    """What is wrong with a pivot's query string, as ``GET /api/analytics`` would answer it for the
    principal (unknown items, and units outside their scope, included)."""
    query = spec.query
    if not query or len(query) > MAX_QUERY:
        return [Problem("a pivot's query string is required", field="query", value=query[:100] or None,
                        expected=M_("the query string of a pivot "
                                    "(dimension=dx:…&dimension=ou:…&filter=pe:…), at most {most} characters",
                                    most=MAX_QUERY))]
    if bad := text_problem(query, field="query"):
        return [bad]
    try:
        asked = analytics_request.parse(parse_qsl(query, keep_blank_values=True))
        analytics.prepare(conn, principal=principal, request=asked, today=registry.today())
    except ValidationError as error:
        return [Problem(p.message, field="query", value=f"{p.field}={p.value}" if p.field else p.value,
                        expected=p.expected) for p in error.problems] or [
            Problem(error.detail, field="query", value=query[:100])]
    return []


def _indicator_problems(conn: Connection, principal: Principal, spec: ItemSpec) -> list[Problem]:
    # Imported here: the indicators' compute module imports the analytics engine (a cycle).
    from jiaowei.indicators.targets import compute

    problems = []
    try:
        compute.load_indicator(conn, spec.indicator or "")
    except NotFound:
        problems.append(Problem("no such indicator", field="indicator", value=spec.indicator,
                                expected="the code of an indicator"))
    unit_id = registry.id_of(conn, spec.unit or "")
    if unit_id is None or not _may_view_unit(conn, principal, unit_id):
        problems.append(Problem("no such unit", field="orgUnit", value=spec.unit,
                                expected="the code of a unit you may view"))
    if not pe.is_valid(spec.period or ""):
        problems.append(Problem("not a period", field="period", value=spec.period,
                                expected="a period identifier, e.g. 2020, 2020SY or 202011"))
    return problems


def check_item(conn: Connection, principal: Principal, spec: ItemSpec) -> ItemSpec:
    """The item as it will be saved, or a ValidationError naming each field at fault."""
    problems = []
    if spec.kind not in KINDS:
        problems.append(Problem("unknown kind of item", field="kind", value=spec.kind,
                                expected=", ".join(KINDS)))
    if spec.width not in WIDTHS:
        problems.append(Problem("unknown width", field="width", value=spec.width, expected=", ".join(WIDTHS)))
    if spec.chart_type is not None and spec.chart_type not in CHART_TYPES:
        problems.append(Problem("unknown chart type", field="chartType", value=spec.chart_type,
                                expected=", ".join(CHART_TYPES)))
    if len(spec.title) > MAX_NAME:
        problems.append(Problem("the title is too long", field="title", value=spec.title[:100],
                                expected=M_("at most {most} characters", most=MAX_NAME)))
    elif bad := text_problem(spec.title, field="title"):
        problems.append(bad)
    if spec.kind in ("pivot", "chart"):
        spec = ItemSpec(spec.kind, spec.title.strip(), normalised_query(spec.query),
                        spec.chart_type or ("bar" if spec.kind == "chart" else None), width=spec.width)
        problems += _query_problems(conn, principal, spec)
    elif spec.kind == "indicator":
        spec = ItemSpec("indicator", spec.title.strip(), "", None, (spec.indicator or "").strip(),
                        (spec.unit or "").strip(), (spec.period or "").strip(), spec.width)
        problems += _indicator_problems(conn, principal, spec)
    if problems:
        raise _invalid("The dashboard item cannot be saved.", problems)
    return spec


# ---------------------------------------------------------------- writing


def _require_editable(principal: Principal, row: Any) -> None:
    if not _editable(principal, row):
        raise PermissionDenied("Only its owner may change this dashboard; a shared dashboard is changed "
                               "by those who may write metadata.")


def _touch(conn: Connection, dashboard_id: int) -> None:
    conn.execute(update(dashboards).where(dashboards.c.id == dashboard_id).values(updated_at=_now()))


def _record(conn: Connection, principal: Principal, action: str, key: str, *, before: Any = None,
            after: Any = None) -> None:
    audit.record(conn, actor=principal.username, action=f"dashboard.{action}", entity="dashboard",
                 entity_key=key, before=before, after=after)


def create_dashboard(
    conn: Connection,
    *,
    principal: Principal,
    name_zh: str,
    name_en: str,
    code: str | None = None,
    shared: bool = False,
    role: str | None = None,
    unit: str | None = None,
) -> Dashboard:
    """A new dashboard: the principal's own, or (``shared``, with ``role`` or ``unit`` if given) shared."""
    require_action(principal, Action.VIEW)
    problems = _name_problems(name_zh, name_en)
    if code is not None and not CODE.match(code):
        problems.append(Problem("invalid code", field="code", value=code, expected=CODE_EXPECTED))
    if problems:
        raise _invalid("The dashboard cannot be created.", problems)
    shared = shared or role is not None or unit is not None
    if shared and not principal.may(Action.METADATA_WRITE):
        raise PermissionDenied("Only those who may write metadata may share a dashboard.")
    unit_id = _sharing(conn, principal, role, unit) if shared else None
    return _insert_dashboard(conn, principal, code=code, name_zh=name_zh.strip(), name_en=name_en.strip(),
                             owner=None if shared else principal.username, role=role, unit_id=unit_id)


def _insert_dashboard(conn: Connection, principal: Principal, *, code: str | None, name_zh: str, name_en: str,
                      owner: str | None, role: str | None = None, unit_id: int | None = None,
                      home: bool = False) -> Dashboard:
    uid = new_uid()
    code = code or uid
    if conn.scalar(select(dashboards.c.id).where(dashboards.c.code == code)) is not None:
        raise Conflict(M_("A dashboard with code {code!r} already exists.", code=code),
                       [Problem("the code is taken", field="code", value=code,
                                expected="a code no other dashboard has")])
    now = _now()
    conn.execute(insert(dashboards).values(
        uid=uid, code=code, name_zh=name_zh, name_en=name_en, owner=owner, role=role, unit_id=unit_id,
        home=home, created_by=principal.username, created_at=now, updated_at=now))
    after = {"code": code, "name_zh": name_zh, "name_en": name_en, "owner": owner, "role": role,
             "unit_id": unit_id, "home": home}
    _record(conn, principal, "create", uid, after=after)
    return _dashboard(conn, principal, conn.execute(select(dashboards).where(dashboards.c.uid == uid)).one())


def update_dashboard(
    conn: Connection,
    *,
    principal: Principal,
    dashboard: str,
    name_zh: str | None = None,
    name_en: str | None = None,
) -> Dashboard:
    """Rename a dashboard the principal may change."""
    row = _row(conn, principal, dashboard)
    _require_editable(principal, row)
    if problems := _name_problems(name_zh, name_en):
        raise _invalid("The dashboard cannot be changed.", problems)
    changes = {k: v.strip() for k, v in (("name_zh", name_zh), ("name_en", name_en)) if v is not None}
    if changes:
        conn.execute(update(dashboards).where(dashboards.c.id == row.id).values(**changes, updated_at=_now()))
        _record(conn, principal, "update", row.uid, before={k: getattr(row, k) for k in changes},
                after=changes)
    return get_dashboard(conn, principal=principal, dashboard=row.uid)


def delete_dashboard(conn: Connection, *, principal: Principal, dashboard: str) -> None:
    """Delete a dashboard the principal may change, with its items."""
    row = _row(conn, principal, dashboard)
    _require_editable(principal, row)
    before = _dashboard(conn, principal, row).as_dict()
    conn.execute(delete(dashboard_items).where(dashboard_items.c.dashboard_id == row.id))
    conn.execute(delete(dashboards).where(dashboards.c.id == row.id))
    _record(conn, principal, "delete", row.uid, before=before)


def _home_row(conn: Connection, principal: Principal) -> Any:
    """The principal's home dashboard, created now if they have none."""
    try:
        return _row(conn, principal, HOME)
    except NotFound:
        made = _insert_dashboard(conn, principal, code=None, name_zh="我的首页", name_en="My home page",
                                 owner=principal.username, home=True)
        return _row(conn, principal, made.uid)


def add_item(conn: Connection, *, principal: Principal, dashboard: str, spec: ItemSpec) -> Item:
    """Add an item at the end of the dashboard ("home": the principal's home dashboard, created on
    first save)."""
    require_action(principal, Action.VIEW)
    checked = check_item(conn, principal, spec)
    row = _home_row(conn, principal) if dashboard == HOME else _row(conn, principal, dashboard)
    _require_editable(principal, row)
    i = dashboard_items
    count, last = conn.execute(
        select(func.count(), func.max(i.c.position)).where(i.c.dashboard_id == row.id)).one()
    if count >= MAX_ITEMS:
        raise Conflict(M_("A dashboard holds at most {count} items.", count=MAX_ITEMS),
                       [Problem("the dashboard is full", field="dashboard", value=row.uid,
                                expected=M_("a dashboard with fewer than {most} items", most=MAX_ITEMS))])
    uid = new_uid()
    values = {**asdict(checked), "uid": uid, "dashboard_id": row.id, "position": (last or 0) + 1,
              "created_at": _now(), "query": checked.query}
    conn.execute(insert(i).values(**values))
    _touch(conn, row.id)
    _record(conn, principal, "item.add", row.uid, after={**asdict(checked), "item": uid})
    return _item(conn.execute(select(i).where(i.c.uid == uid)).one())


def _item_row(conn: Connection, dashboard_row: Any, item: str) -> Any:
    i = dashboard_items
    row = conn.execute(select(i).where(i.c.dashboard_id == dashboard_row.id, i.c.uid == item)).first()
    if row is None:
        raise NotFound(M_("No item {item!r} on this dashboard.", item=item),
                       [Problem("no such item", field="item", value=item, expected="the id of an item of the "
                                "dashboard")])
    return row


def update_item(
    conn: Connection,
    *,
    principal: Principal,
    dashboard: str,
    item: str,
    title: str | None = None,
    width: str | None = None,
    chart_type: str | None = None,
    position: int | None = None,
) -> Item:
    """Change an item's title, width or chart type, or move it to ``position`` (1 is first)."""
    row = _row(conn, principal, dashboard)
    _require_editable(principal, row)
    found = _item_row(conn, row, item)
    old = _item(found)
    spec = ItemSpec(old.kind, old.title if title is None else title, old.query,
                    chart_type if chart_type is not None else old.chart_type, old.indicator, old.unit,
                    old.period, width or old.width)
    checked = check_item(conn, principal, spec) if old.kind != "indicator" else _checked_tile(spec)
    changes = {"title": checked.title, "width": checked.width, "chart_type": checked.chart_type}
    conn.execute(update(dashboard_items).where(dashboard_items.c.id == found.id).values(**changes))
    if position is not None:
        _move(conn, row.id, found.id, position)
    _touch(conn, row.id)
    before = {"item": item, "title": old.title, "width": old.width, "chart_type": old.chart_type,
              "position": old.position}
    _record(conn, principal, "item.update", row.uid, before=before,
            after={"item": item, **changes, "position": position})
    return _item(conn.execute(select(dashboard_items).where(dashboard_items.c.id == found.id)).one())


def _checked_tile(spec: ItemSpec) -> ItemSpec:
    """An indicator tile's new title and width (its indicator, unit and period stay as saved)."""
    problems = []
    if spec.width not in WIDTHS:
        problems.append(Problem("unknown width", field="width", value=spec.width, expected=", ".join(WIDTHS)))
    if len(spec.title) > MAX_NAME or text_problem(spec.title, field="title"):
        problems.append(Problem("invalid title", field="title", value=spec.title[:100],
                                expected=M_("one line of at most {most} characters", most=MAX_NAME)))
    if problems:
        raise _invalid("The dashboard item cannot be saved.", problems)
    return ItemSpec(spec.kind, spec.title.strip(), spec.query, None, spec.indicator, spec.unit, spec.period,
                    spec.width)


def _move(conn: Connection, dashboard_id: int, item_id: int, position: int) -> None:
    """Put the item at ``position`` (kept within 1 … the number of items) and number all 1, 2, 3 …"""
    i = dashboard_items
    order = [r.id for r in conn.execute(select(i.c.id).where(i.c.dashboard_id == dashboard_id)
                                        .order_by(i.c.position, i.c.id))]
    order.remove(item_id)
    order.insert(min(max(position, 1), len(order) + 1) - 1, item_id)
    for n, some in enumerate(order, 1):
        conn.execute(update(i).where(i.c.id == some).values(position=n))


def remove_item(conn: Connection, *, principal: Principal, dashboard: str, item: str) -> None:
    """Take an item off the dashboard; the others keep their order."""
    row = _row(conn, principal, dashboard)
    _require_editable(principal, row)
    found = _item_row(conn, row, item)
    conn.execute(delete(dashboard_items).where(dashboard_items.c.id == found.id))
    _touch(conn, row.id)
    _record(conn, principal, "item.remove", row.uid, before={"item": item, **_item(found).as_dict()})
