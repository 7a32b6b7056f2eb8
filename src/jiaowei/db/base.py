"""Table metadata shared by every domain's ``store.py``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, MetaData, String
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def byte_ordered_string(length: int) -> TypeEngine[str]:
    """A string compared byte by byte on every database (paths use range scans)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


JSONType: TypeEngine[Any] = JSON().with_variant(postgresql.JSONB(), "postgresql")
