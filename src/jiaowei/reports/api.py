"""The reports API (JSON): templates, and reports rendered in a format."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["reports"])
