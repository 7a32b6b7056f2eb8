"""Process-wide counters that Prometheus reads at ``/metrics`` (``web/metrics.py``).

The web layer's own metrics (request latency, responses, the pool) are registered on the same
:data:`REGISTRY`; domain code counts what it finishes here (imports, lottery draws) without importing
the web framework. With several uvicorn workers each counts its own, and ``/metrics`` sums them
(prometheus_client's multiprocess mode; see ``web/metrics.py`` and docs/operators.md, "Metrics").
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

JOBS = Counter("jiaowei_jobs", "Background jobs ended, by kind (units.import, data.import, plans.import, "
               "admissions.applicants.import, reports.render, …), outcome (succeeded, failed) and whether "
               "they were dry runs (dry_run: true, which write nothing; false).",
               ["kind", "outcome", "dry_run"], registry=REGISTRY)
LOTTERY_DRAWS = Counter("jiaowei_lottery_draws", "Admissions lottery draws run (campaigns drawn).",
                        registry=REGISTRY)
