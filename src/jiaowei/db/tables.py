"""Imports every domain's tables (as its descriptor names them) so that ``metadata`` knows them all."""

import importlib

from jiaowei import domains
from jiaowei.db.base import metadata

for module in domains.table_modules():
    importlib.import_module(module)

__all__ = ["metadata"]
