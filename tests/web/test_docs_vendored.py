"""The API docs (Swagger UI, ReDoc) come from pinned files vendored under web/static/vendor/, each with
the SHA-256 recorded in vendor/VERSIONS.json; the pages reference nothing outside /static/. So does
Apache ECharts, which web/static/charts.js draws the charts with."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jiaowei.web.app import STATIC
from jiaowei.web.headers import DOCS_POLICY, PAGE_POLICY

ROOT = Path(__file__).resolve().parents[2]
VENDOR = STATIC / "vendor"
SCRIPT = ROOT / "scripts" / "vendor-assets"


def manifest() -> dict[str, dict[str, object]]:
    return json.loads((VENDOR / "VERSIONS.json").read_text())  # type: ignore[no-any-return]


def references(html: str) -> list[str]:
    return re.findall(r'\b(?:src|href|spec-url|data-openapi-url)="([^"]*)"', html)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_reference_only_vendored_files(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    found = references(response.text)
    assets = [ref for ref in found if ref != "/openapi.json"]
    assert assets and all(ref.startswith("/static/") for ref in assets), found
    assert any(ref.startswith("/static/vendor/") for ref in assets)
    for ref in assets:
        served = client.get(ref)
        assert served.status_code == 200, ref
        assert served.content == (STATIC / ref.removeprefix("/static/")).read_bytes()
        if ref.startswith("/static/vendor/"):
            package, name = ref.removeprefix("/static/vendor/").split("/", 1)
            assert manifest()[package]["files"][name] == hashlib.sha256(served.content).hexdigest()  # type: ignore[index]


def test_no_policy_names_another_origin() -> None:
    for policy in (PAGE_POLICY, DOCS_POLICY):
        assert "http" not in policy and "cdn" not in policy


def test_every_vendored_file_has_its_recorded_checksum_and_version() -> None:
    recorded = manifest()
    assert {"swagger-ui-dist", "redoc", "echarts"} <= recorded.keys()
    listed = set()
    for package, entry in recorded.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(entry["version"])), entry
        assert str(entry["integrity"]).startswith("sha512-")
        for name, digest in entry["files"].items():  # type: ignore[attr-defined]
            path = VENDOR / package / name
            assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
            listed.add(path)
    on_disk = {p for p in VENDOR.rglob("*") if p.is_file() and p.name != "VERSIONS.json"}
    assert on_disk == listed, "a vendored file that VERSIONS.json does not record"


def test_the_refresh_script_checks_the_files_offline(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    source = SCRIPT.read_text()
    for package, entry in manifest().items():
        assert f'Package("{package}", "{entry["version"]}"' in source  # the script's list pins each one


def test_echarts_is_a_pinned_5x_build_served_with_its_recorded_checksum(client: TestClient) -> None:
    entry = manifest()["echarts"]
    assert str(entry["version"]).startswith("5.") and entry["licence"] == "Apache-2.0"
    files = entry["files"]
    assert {"echarts.min.js", "LICENSE", "NOTICE"} <= files.keys()  # type: ignore[operator]
    served = client.get("/static/vendor/echarts/echarts.min.js")
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == files["echarts.min.js"]  # type: ignore[index]
    assert f'version="{entry["version"]}"' in served.text  # the build says which version it is
    chart_module = client.get("/static/charts.js")
    assert chart_module.status_code == 200 and "http" not in chart_module.text
