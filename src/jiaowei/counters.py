"""Process-wide counters that Prometheus reads at ``/metrics`` (``web/metrics.py``).

The web layer's own metrics (request latency, responses, the pool) are registered on the same
:data:`REGISTRY`; domain code counts what it finishes here (imports, lottery draws) without importing
the web framework. Counts are this process's: several uvicorn workers each count their own (see
docs/operators.md, "Metrics").
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

IMPORT_JOBS = Counter("jiaowei_import_jobs", "Import jobs ended, by outcome (succeeded, failed).",
                      ["outcome"], registry=REGISTRY)
LOTTERY_DRAWS = Counter("jiaowei_lottery_draws", "Admissions lottery draws run (campaigns drawn).",
                        registry=REGISTRY)
