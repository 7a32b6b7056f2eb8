"""benchmarks/analytics.py at a tiny scale on the test cluster (PostgreSQL only, a scratch database).

The benchmark's own check is the point: jiaowei's engine answers q5, qall and qschools exactly as
the plain PostgreSQL GROUP BY on the same generated data does (a school moving district on 1 July
among them), and a value written as the write path writes it is read back fresh.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import BACKENDS
from tests.pgcluster import Cluster

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="the benchmark runs on PostgreSQL")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "analytics.py"


def benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_analytics", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_agrees_with_postgresql_and_reads_a_write_back(pg_cluster: Cluster) -> None:
    bench = benchmark()
    figures = bench.main(["--scale", "0.001", "--budget", "0", "--no-flat", "--database-url", pg_cluster.url])
    assert figures["checks"] == {"q5": True, "qall": True, "qschools": True}
    assert len(figures["fresh"]) == bench.FRESHNESS_RUNS
    assert max(figures["fresh"]) < bench.FRESH_TIMEOUT
    assert all(len(times) >= 3 for times in figures["results"]["jiaowei"].values())
