"""The reports pages: the list, the template editor with its preview, generating a report."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
