"""Imports every domain's tables so that ``metadata`` knows them all."""

from jiaowei.admissions import store as admissions_store  # noqa: F401
from jiaowei.audit import store as audit_store  # noqa: F401
from jiaowei.auth import store as auth_store  # noqa: F401
from jiaowei.db.base import metadata
from jiaowei.indicators import store as indicators_store  # noqa: F401
from jiaowei.registry import store as registry_store  # noqa: F401

__all__ = ["metadata"]
