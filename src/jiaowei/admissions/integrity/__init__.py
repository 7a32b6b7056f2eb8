"""The admissions tables checked against the audit chain and the proof bundles (``jiaowei audit verify``).

:mod:`.campaigns` replays each campaign's entries (its settings, schools, fallback orders and
steps) and each applicant's (pseudonymous id, district, tier, catchment, group, choices) and
compares them with the live rows; :mod:`.lottery` recomputes the frozen pools, ``results.csv`` and
``cutoffs.csv`` from the live rows and compares their digests with those the draw's entry took
from the proof bundle's manifest.
"""
