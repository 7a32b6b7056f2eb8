"""Evidence downloads over the API: ``GET /api/plans/evidence/{uid}``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response

from jiaowei.plans import clock
from jiaowei.plans.evidence import service
from jiaowei.plans.evidence.model import Attachment
from jiaowei.web.deps import User, WriteConn

router = APIRouter(tags=["plans"])


def as_download(item: Attachment, data: bytes) -> Response:
    """The file as a download, never shown inline: its real type, its name in UTF-8 (RFC 6266)."""
    ascii_name = item.filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(item.filename)}"
    return Response(data, media_type=item.media_type, headers={
        "Content-Disposition": disposition,
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    })


@router.get("/api/plans/evidence/{uid}", responses={200: {"content": {"application/octet-stream": {}}}})
def download(uid: str, user: User, conn: WriteConn) -> Response:
    """An evidence file attached to a progress report, measure, score or risk review (audited)."""
    item, data = service.download(conn, principal=user, uid=uid, day=clock.today())
    return as_download(item, data)
