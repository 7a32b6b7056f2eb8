"""The plans demo: the 2020 key tasks of the seed's report, an appraisal round, a rectification ledger
and a risk register (``demo_2020.json``).

Run after :func:`jiaowei.demo.shanghai2020.load` and :func:`jiaowei.indicators.demo.load` (it needs
their units, users and indicators). Through the services, it creates:

- one indicator the plan links to and the indicators demo lacks: 建成的普惠性托育点数
  (``PUHUI_CHILDCARE_BUILT``), from a yes/no element each childcare point reports (synthetic values:
  the registry demo's 53 普惠 points say yes), with the city's target of 53;
- the 2020 plan: the report's three sections (一、二、三), their numbered items as tasks and the
  items' concrete commitments as sub-tasks, with the outcomes the report gives. Owners (处室, as
  roles), milestones, the progress reports at the three checkpoints and the statuses of the few items
  at risk or late are synthetic, and each item's description says so;
- 高校党委书记抓基层党建工作述职评议: a template, ten municipal universities, three demo reviewers
  (logins with the demo password) and their synthetic scores, closed with results;
- rectification findings of the 2020 inspections (即知即改、边巡边改, 回头看), synthetic, with
  measures in every state;
- a register of eight major risks with their reviews, synthetic.

Each part is loaded only if its service exists and loads cleanly (inside a savepoint); the summary
names the parts skipped and why. Everything synthetic says so: ``（合成）`` / ``(synthetic)`` in titles
and texts. The caller commits.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth import service as auth
from jiaowei.auth.model import SYSTEM, Principal, Role
from jiaowei.demo.shanghai2020 import COMMISSION, PASSWORD, SYNTHETIC_NOTE
from jiaowei.errors import JiaoweiError

Progress = Callable[[str, int, int], None]
END_2020 = dt.date(2020, 12, 31)
STAGES = ("deploy", "advance", "assess")
WEEK = dt.timedelta(days=7)
CHECKPOINTS = {"deploy": dt.date(2020, 3, 31), "advance": dt.date(2020, 7, 15),
               "assess": dt.date(2020, 12, 15)}
TASK_NOTE = ("责任处室、里程碑、进度报告为合成示例；成果据报告原文。 / Owners, milestones and "
             "progress reports are synthetic; the outcome is the report's.")
# The demo login that acts: the commission's staff deploy the plan, report and review its progress
# (the commission leads the tasks), and run the ledger, the register and the appraisal.
STAFF = "commission"


def read() -> dict[str, Any]:
    """``demo_2020.json``."""
    text = resources.files("jiaowei.plans").joinpath("demo_2020.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def maybe_day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def target(value: Any) -> float | None:
    """A link's target: a number, ``"1:159"`` (a ratio, 1/159), or None (the indicator's own)."""
    if isinstance(value, str) and value.startswith("1:"):
        return 1 / float(value[2:])
    return None if value is None else float(value)


def items(data: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """Every task and sub-task of the plan: (kind, item, its task or None)."""
    for section in data["sections"]:
        for task in section["tasks"]:
            yield "task", task, None
            for sub in task.get("subtasks", ()):
                yield "subtask", sub, task


DEMO_USERS: list[dict[str, Any]] = [
    {"username": r["username"], "password": PASSWORD, "role": Role.VIEWER.value, "scope": COMMISSION,
     "description": r["display_name"]} for r in read()["appraisal"]["reviewers"]]
"""The appraisal round's reviewers (viewers of the whole system: they read everything, write nothing
but their own scores)."""


@dataclass(frozen=True)
class People:
    staff: Principal  # the commission's staff: the plan and its progress, ledger, register, appraisal
    reviewers: tuple[Principal, ...]


def _principal(conn: Connection, username: str) -> Principal:
    return auth.principal_for(conn, user_id=auth.user_id_for(conn, username=username))


def _people(conn: Connection) -> People:
    return People(staff=_principal(conn, STAFF),
                  reviewers=tuple(_principal(conn, u["username"]) for u in DEMO_USERS))


def _users(conn: Connection) -> int:
    for user in DEMO_USERS:
        auth.create_user(conn, principal=SYSTEM, username=user["username"], password=user["password"],
                         role=user["role"], view_scope=[user["scope"]], display_name=user["description"])
    return len(DEMO_USERS)


# ---------------------------------------------------------------- the childcare indicator


def _childcare_indicator(conn: Connection, data: Mapping[str, Any]) -> int:
    """建成的普惠性托育点数: each childcare point open at the end of 2020 says whether it is one of the
    普惠 points built in 2020 (synthetic values from the registry demo's flags)."""
    from jiaowei.indicators.demo import SEED, SOURCE
    from jiaowei.indicators.metadata import service as metadata
    from jiaowei.indicators.model import ValueRow
    from jiaowei.indicators.targets import service as targets
    from jiaowei.indicators.values import service as values
    from jiaowei.registry import queries as registry

    spec = data["childcare_indicator"]
    metadata.save_data_element(conn, principal=SYSTEM, code=spec["element"], name_zh=spec["element_zh"],
                               name_en=spec["element_en"], value_type="BOOLEAN", category_combo=None,
                               zero_is_significant=True)
    metadata.save_data_set(conn, principal=SYSTEM, code=spec["data_set"], name_zh=spec["data_set_zh"],
                           name_en=spec["data_set_en"], period_type="Yearly", elements=[spec["element"]],
                           unit_types=["childcare_point"], units=(), due_days=15)
    metadata.save_indicator(conn, principal=SYSTEM, code=spec["indicator"], name_zh=spec["indicator_zh"],
                            name_en=spec["indicator_en"], numerator="#{" + spec["element"] + "}",
                            denominator="1", display="number", decimals=0, higher_is_better=True,
                            description=f"{SEED}: {spec['source']}")
    points = registry.units_on(conn, END_2020, types=["childcare_point"])
    rows = [ValueRow(data_element=spec["element"], period="2020", org_unit=p.code, category_option_combo=None,
                     value="true" if (p.attributes or {}).get("普惠") else "false") for p in points]
    summary = values.import_values(conn, principal=SYSTEM, rows=rows, source=SOURCE, synthetic=True,
                                   check_expiry=False)
    if summary.conflicts:
        raise RuntimeError(f"childcare values refused: {summary.conflicts[0].reason}")
    targets.set_target(conn, principal=SYSTEM, indicator=spec["indicator"], unit=COMMISSION, period="2020",
                       value=float(spec["target"]), at_risk_margin=0.0, benchmark=None, benchmark_label="",
                       note=spec["target_note"])
    return summary.imported


# ---------------------------------------------------------------- key tasks


def _description(item: Mapping[str, Any], source: str) -> str:
    text = item.get("description") or item.get("title_zh", "")
    return f"{text}\n\n{source}\n{TASK_NOTE}"


def _fields(item: Mapping[str, Any], task: Mapping[str, Any] | None, source: str) -> dict[str, Any]:
    """save_item's arguments for a task or sub-task (a sub-task inherits its task's lead unit, owner
    and deadline unless it names its own)."""
    parent = task or {}
    return {
        "number": item["number"], "title_zh": item["title_zh"], "title_en": item["title_en"],
        "description": _description(item, source),
        "lead_unit": item.get("lead_unit") or parent.get("lead_unit") or COMMISSION,
        "supporting_units": item.get("supporting_units", ()),
        "owner": item.get("owner") or parent.get("owner", ""),
        "deadline": maybe_day(item.get("deadline") or parent.get("deadline")) or END_2020,
        "outcome": item.get("outcome", ""),
        "milestones": [{"title": m["title_zh"], "due": day(m["due"]), "done_on": maybe_day(m.get("done_on"))}
                       for m in item.get("milestones", ())],
        "links": [{"indicator": k["indicator"], "unit": k.get("unit"), "period": k.get("period"),
                   "target": target(k.get("target"))} for k in item.get("links", ())],
    }


def _tasks(conn: Connection, data: Mapping[str, Any], people: People, report: Progress) -> dict[str, int]:
    from jiaowei.plans.tasks import service as tasks

    plan, manager = data["plan"], people.staff
    year = int(plan["year"])
    source = f"来源 / source: {data['source']}"
    tasks.create_plan(conn, principal=manager, year=year, title_zh=plan["title_zh"],
                      title_en=plan["title_en"])
    saved: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for section in data["sections"]:
        section_uid = tasks.save_item(
            conn, principal=manager, year=year, parent=None, kind="section", number=section["number"],
            title_zh=section["title_zh"], title_en=section["title_en"],
            description=f"{section['description']}\n\n{source}", lead_unit=COMMISSION)
        for task in section["tasks"]:
            task_uid = tasks.save_item(conn, principal=manager, year=year, parent=section_uid, kind="task",
                                       **_fields(task, None, source))
            saved.append((task_uid, task, None))
            for sub in task.get("subtasks", ()):
                uid = tasks.save_item(conn, principal=manager, year=year, parent=task_uid, kind="subtask",
                                      **_fields(sub, task, source))
                saved.append((uid, sub, task))
    reports = 0
    for done, (uid, item, task) in enumerate(saved, start=1):
        reports += _progress(conn, tasks, people, uid, item, task, done)
        report("plans: key tasks", done, len(saved))
    return {"sections": len(data["sections"]), "tasks": len(saved), "reports": reports}


def evidence_pdf(lines: Sequence[str]) -> bytes:
    """A one-page PDF with a few lines of ASCII text (the synthetic evidence of a year-end report)."""
    def literal(line: str) -> str:
        plain = line.encode("ascii", "replace").decode("ascii")
        return "(" + plain.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    text = " ".join(f"{literal(line)} Tj 0 -18 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 760 Td {text} ET".encode("ascii")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _evidence(item: Mapping[str, Any], task: Mapping[str, Any] | None, stage: str) -> list[tuple[str, bytes]]:
    """A task's year-end report carries its (synthetic) summary as a PDF; sub-tasks and other stages none."""
    if task is not None or stage != "assess":
        return []
    lines = ["jiaowei demo: synthetic evidence", f"2020 key task: {item['title_en']}",
             "Year-end summary (synthetic; the outcome is the 2020 report's)"]
    return [(f"{item['title_zh']}：年度总结（合成）.pdf", evidence_pdf(lines))]


def _narrative(stage: str, percent: int, item: Mapping[str, Any], owner: str) -> str:
    if stage == "deploy":
        return (f"年初同部署：“{item['title_zh']}”列入年度重点任务，由{owner}牵头，明确时间节点和责任分工，"
                f"完成{percent}%。（合成）")
    behind = item["progress"][-1] < 100
    if stage == "advance":
        return f"年中同推进：完成{percent}%，{'进度偏慢，正在协调' if behind else '按节点推进'}。（合成）"
    if not behind:
        return f"年底同考核：{item.get('outcome', '')}（成果据报告原文；进度报告为合成示例）"
    reason = str(item.get("status_reason", "")).split(" / ")[0] or "部分节点未按期完成。（合成）"
    return f"年底同考核：完成{percent}%。{reason}"


def _progress(conn: Connection, tasks: Any, people: People, uid: str, item: Mapping[str, Any],
              task: Mapping[str, Any] | None, index: int) -> int:
    """The three checkpoint reports (reported a few days before each is due) and their reviews; an
    item the JSON marks at risk or late with a reason gets that status at the year-end review. A
    report the JSON says was ``returned`` is returned with its comment and reported again a week on."""
    owner = item.get("owner") or (task or {}).get("owner", "")
    returned = item.get("returned", {})
    count = 0
    for stage, percent in zip(STAGES, item["progress"], strict=True):
        on = CHECKPOINTS[stage] - dt.timedelta(days=index % 6)
        narrative = _narrative(stage, percent, item, owner)
        if returned.get("stage") == stage:
            first = tasks.report_progress(conn, principal=people.staff, task=uid, stage=stage,
                                          percent=int(percent), narrative=narrative, today=on - WEEK)
            tasks.review_report(conn, principal=people.staff, report=first, decision="return",
                                comment=returned["comment"])
            narrative, count = f"{narrative}{returned['answer']}", count + 1
        report_uid = tasks.report_progress(conn, principal=people.staff, task=uid, stage=stage,
                                           percent=int(percent), narrative=narrative, today=on,
                                           evidence=_evidence(item, task, stage))
        override = stage == "assess" and item.get("status_reason")
        tasks.review_report(conn, principal=people.staff, report=report_uid, decision="accept",
                            comment="同意。（合成）" if not override else "同意，列入重点督办。（合成）",
                            status=item["status"] if override else None,
                            reason=item["status_reason"] if override else "")
        count += 1
    return count


# ---------------------------------------------------------------- the appraisal round


def scores(data: Mapping[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """Synthetic scores (unit → reviewer → criterion → score): each university's level, give or take a
    few points per reviewer and criterion, drawn with ``random.Random(2020)``; whole numbers."""
    rng = random.Random(2020)
    spec = data["appraisal"]
    criteria = [c["code"] for c in spec["template"]["criteria"]]
    top = float(spec["template"]["scale_max"])
    out: dict[str, dict[str, dict[str, float]]] = {}
    for subject in spec["subjects"]:
        out[subject["unit"]] = {
            reviewer["username"]: {c: float(min(top, max(60, subject["level"] + rng.randint(-4, 4))))
                                   for c in criteria}
            for reviewer in spec["reviewers"]}
    return out


def _appraisal(conn: Connection, data: Mapping[str, Any], people: People, report: Progress) -> dict[str, int]:
    """The template, the round (every reviewer assigned to every subject), each reviewer's scores with a
    comment, then the round closed: its totals are written to a data element of the universities."""
    from jiaowei.plans.appraisals import queries as appraisal_queries
    from jiaowei.plans.appraisals import service as appraisals

    spec, staff = data["appraisal"], people.staff
    template, round_spec = spec["template"], spec["round"]
    low, high = template["scale_min"], template["scale_max"]
    template_uid = appraisals.create_template(
        conn, principal=staff, name_zh=template["name_zh"], name_en=template["name_en"],
        description=template["description"], thresholds=template["thresholds"],
        criteria=[{"name_zh": c["name_zh"], "name_en": c["name_en"], "weight": c["weight"], "min": low,
                   "max": high} for c in template["criteria"]])
    element = _appraisal_element(conn, round_spec["element"], [s["unit"] for s in spec["subjects"]])
    round_uid = appraisals.create_round(
        conn, principal=staff, template=template_uid, year=round_spec["year"],
        title_zh=round_spec["title_zh"], title_en=round_spec["title_en"],
        deadline=day(round_spec["deadline"]), trimmed=round_spec["trimmed"],
        subjects=[{"unit": s["unit"], "leader": "", "reviewers": []} for s in spec["subjects"]],
        reviewers=[r.username for r in people.reviewers], element=element, today=day(round_spec["opens"]))
    criteria = [c.uid for c in appraisal_queries.template_by_id(
        conn, appraisal_queries.round_row(conn, round_uid).template_id).criteria]
    detail = appraisal_queries.round_detail(conn, principal=staff, uid=round_uid, today=END_2020)
    subject_uids = {s.unit: s.uid for s in detail.subjects}
    codes = [c["code"] for c in template["criteria"]]
    given = scores(data)
    for n, reviewer in enumerate(people.reviewers):
        scored_on = day(round_spec["opens"]) + dt.timedelta(days=5 + 3 * n)
        for unit, by_reviewer in given.items():
            mine = by_reviewer[reviewer.username]
            appraisals.record_scores(
                conn, principal=reviewer, round=round_uid, subject=subject_uids[unit], today=scored_on,
                scores=[{"criterion": uid, "score": mine[code], "comment": _score_comment(mine[code])}
                        for uid, code in zip(criteria, codes, strict=True)])
        report("plans: appraisals", n + 1, len(people.reviewers) + 1)
    fed = appraisals.close_round(conn, principal=staff, round=round_uid, today=day(round_spec["closed_on"]))
    report("plans: appraisals", len(people.reviewers) + 1, len(people.reviewers) + 1)
    return {"subjects": len(given), "reviewers": len(people.reviewers), "values_fed": fed}


def _score_comment(score: float) -> str:
    if score >= 90:
        return "成效突出。（合成）"
    return "工作扎实。（合成）" if score >= 80 else "仍有差距，需加强。（合成）"


def _appraisal_element(conn: Connection, spec: Mapping[str, str], units: Sequence[str]) -> str:
    """The data element (and a yearly data set of the units appraised) the round's totals are fed to."""
    from jiaowei.indicators.metadata import service as metadata

    metadata.save_data_element(conn, principal=SYSTEM, code=spec["code"], name_zh=spec["name_zh"],
                               name_en=spec["name_en"], value_type="NUMBER", category_combo=None,
                               zero_is_significant=False)
    metadata.save_data_set(conn, principal=SYSTEM, code=spec["data_set"], name_zh=spec["data_set_zh"],
                           name_en=spec["data_set_en"], period_type="Yearly", elements=[spec["code"]],
                           unit_types=(), units=units, due_days=15)
    return spec["code"]


# ---------------------------------------------------------------- the rectification ledger

MEASURE_PATHS: dict[str, tuple[str, ...]] = {
    "open": (),
    "in_progress": ("in_progress",),
    "rectified": ("in_progress", "rectified"),
    "verified": ("in_progress", "rectified", "verified"),
    "closed": ("in_progress", "rectified", "verified", "closed"),
    "reopened": ("in_progress", "rectified", "verified", "in_progress"),
}


def _ledger(conn: Connection, data: Mapping[str, Any], people: People, report: Progress) -> dict[str, int]:
    from jiaowei.plans.ledger import queries as ledger_queries
    from jiaowei.plans.ledger import service as ledger

    findings = data["rectification"]["findings"]
    moved = 0
    for done, finding in enumerate(findings, start=1):
        uid = ledger.record_finding(
            conn, principal=people.staff, source_kind=finding["source_kind"], source=finding["source"],
            found_on=day(finding["found_on"]), unit=finding["unit"], severity=finding["severity"],
            text=finding["text"],
            measures=[{"text": f"{m['text']}（合成）", "owner": m["owner"], "deadline": day(m["deadline"])}
                      for m in finding["measures"]])
        shown = ledger_queries.finding(conn, principal=people.staff, uid=uid, today=END_2020)
        measure_uids = [m.uid for m in sorted(shown.measures, key=lambda m: m.position)]
        for measure_uid, measure in zip(measure_uids, finding["measures"], strict=True):
            moved += _move(conn, ledger, people, measure_uid, measure, day(finding["found_on"]))
        report("plans: rectification", done, len(findings))
    return {"findings": len(findings), "transitions": moved}


def _move(conn: Connection, ledger: Any, people: People, uid: str, measure: Mapping[str, Any],
          found_on: dt.date) -> int:
    """Walk a measure to its state in the JSON: started a week after the finding, rectified on its
    ``done_on``, verified ten days later, closed ten days after that; reopened by the re-check."""
    start = found_on + dt.timedelta(days=7)
    done_on = maybe_day(measure.get("done_on")) or start
    days = {"in_progress": start, "rectified": done_on, "verified": done_on + dt.timedelta(days=10),
            "closed": done_on + dt.timedelta(days=20)}
    path = MEASURE_PATHS[measure["state"]]
    for n, to in enumerate(path):
        reopening = n == 3 and to == "in_progress"
        today = dt.date(2020, 12, 15) if reopening else days[to]
        comment = measure.get("recheck", "") if reopening else _measure_comment(to)
        ledger.transition(conn, principal=people.staff, measure=uid, to_state=to, comment=comment,
                          today=today)
    return len(path)


def _measure_comment(state: str) -> str:
    return {"in_progress": "已制定整改方案，开始整改。（合成）",
            "rectified": "整改完成，报送整改材料。（合成）",
            "verified": "经核查，整改到位。（合成）", "closed": "销号。（合成）"}[state]


# ---------------------------------------------------------------- the risk register


def _risks(conn: Connection, data: Mapping[str, Any], people: People, report: Progress) -> dict[str, int]:
    from jiaowei.plans.risks import service as risks

    registered = dt.date(2020, 2, 1)
    reviews = 0
    for done, risk in enumerate(data["risks"], start=1):
        uid = risks.create_risk(
            conn, principal=people.staff, category=risk["category"], title=f"{risk['title_zh']}（合成）",
            unit=risk["unit"], likelihood=risk["likelihood"], impact=risk["impact"], cadence=risk["cadence"],
            today=registered,
            description=f"{risk['title_zh']}（合成） / {risk['title_en']} (synthetic). {SYNTHETIC_NOTE}",
            owner=risk["owner"], mitigation=risk["mitigation"], indicators=risk.get("links", ()))
        for review in risk.get("reviews", ()):
            risks.record_review(conn, principal=people.staff, uid=uid, likelihood=review["likelihood"],
                                impact=review["impact"], note=review["note"], today=day(review["on"]))
            reviews += 1
        report("plans: risks", done, len(data["risks"]))
    return {"risks": len(data["risks"]), "reviews": reviews}


# ---------------------------------------------------------------- loading

Part = Callable[[Connection, Mapping[str, Any], People, Progress], Mapping[str, int]]
PARTS: Sequence[tuple[str, Part]] = (
    ("tasks", _tasks), ("appraisals", _appraisal), ("rectification", _ledger), ("risks", _risks))


def load(conn: Connection, *, progress: Progress | None = None) -> dict[str, Any]:
    """Load the plans demo as the demo's commission logins; returns counts, and ``skipped``: the parts
    whose service is missing or refused the data (each rolled back alone). Never commits."""
    report = progress or (lambda stage, done, total: None)
    data = read()
    report("plans: indicators", 0, 1)
    summary: dict[str, Any] = {"childcare_values": _childcare_indicator(conn, data), "users": _users(conn),
                               "skipped": {}}
    report("plans: indicators", 1, 1)
    people = _people(conn)
    for name, part in PARTS:
        try:
            with conn.begin_nested():
                summary[name] = dict(part(conn, data, people, report))
        except (ImportError, AttributeError, TypeError, JiaoweiError) as error:
            summary["skipped"][name] = f"{type(error).__name__}: {error}"
    return summary
