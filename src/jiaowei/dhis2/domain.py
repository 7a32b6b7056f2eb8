"""DHIS2 as a client sees it: the system and user routes, the option routes and the organisation units.

The protocol itself (versioned paths, suffixes) is an ASGI middleware installed by ``web/app.py``
(``jiaowei.dhis2.protocol``); the list parameters are the pure engine in ``jiaowei.dhis2.query``.
"""

from __future__ import annotations

from jiaowei.domains import Domain

DOMAIN = Domain(
    name="dhis2",
    api=("jiaowei.dhis2.api", "jiaowei.dhis2.units_api"),
)
