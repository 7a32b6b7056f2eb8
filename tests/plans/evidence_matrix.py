"""Evidence downloads in the scope matrix (tests/auth/test_scope_matrix.py): a file attached at each unit
outside D1 (D2, S2, SH) is "not found" for the D1 district user, through the API and the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from jiaowei.auth.model import SYSTEM
from jiaowei.registry import queries as registry
from jiaowei.settings import Settings, using

ATTACHED: dict[str, str] = {}  # unit code -> attachment uid


def seed_evidence(conn: Connection, settings: Settings) -> None:
    """Attach one file at each unit outside D1, kept where the app under test keeps its files."""
    from jiaowei.plans.evidence import service

    with using(settings):
        _attach_each(conn, service)


def _attach_each(conn: Connection, service: Any) -> None:
    for out in ("D2", "S2", "SH"):
        item = service.attach(conn, principal=SYSTEM, owner_kind="task_report", owner_id=1,
                              unit_id=registry.id_of(conn, out), filename=f"{out}.pdf",
                              content=b"%PDF-1.4\n" + out.encode() + b"\n%%EOF\n")
        ATTACHED[out] = item.uid


def evidence_matrix(call: type) -> dict[tuple[str, str], Callable[[str], list[Any]]]:
    def downloads(prefix: str) -> Callable[[str], list[Any]]:
        return lambda out: [call("GET", f"{prefix}/{ATTACHED.get(out, 'E' + out)}", status=404)]

    return {("GET", "/api/plans/evidence/{uid}"): downloads("/api/plans/evidence"),
            ("GET", "/plans/evidence/{uid}"): downloads("/plans/evidence")}
