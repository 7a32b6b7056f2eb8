"""Evidence downloads from the pages: ``GET /plans/evidence/{uid}`` (a logged-in user's session)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from jiaowei.plans import clock
from jiaowei.plans.evidence import service
from jiaowei.plans.evidence.api import as_download
from jiaowei.web.deps import User, WriteConn

router = APIRouter(include_in_schema=False)


@router.get("/plans/evidence/{uid}")
def download(uid: str, user: User, conn: WriteConn) -> Response:
    item, data = service.download(conn, principal=user, uid=uid, day=clock.today())
    return as_download(item, data)
