"""The package's metadata in the form current setuptools reads without a deprecation warning."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_licence_is_an_spdx_expression_that_the_build_backend_understands():
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    licence = project["project"]["license"]
    # A table ({text = ...}) is deprecated since setuptools 77, the first to read the string form.
    spdx = r"[A-Za-z0-9.\-+]+( (AND|OR|WITH) [A-Za-z0-9.\-+]+)*"
    assert isinstance(licence, str) and re.fullmatch(spdx, licence)
    backend = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", backend[0])
    assert minimum and int(minimum.group(1)) >= 77
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))
