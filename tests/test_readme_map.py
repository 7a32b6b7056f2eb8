"""The README's map of the code matches the tree: every package is on it, every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "jiaowei"


def code_map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Map of the code", 1)[1]
    return section.split("```", 2)[1]


def named_modules(text: str) -> set[str]:
    return set(re.findall(r"\b([a-z_0-9]+\.py)\b", text))


def named_folders(text: str) -> set[str]:
    return set(re.findall(r"^\s*([a-z_0-9]+)/", text, re.M))


def test_every_package_is_on_the_map() -> None:
    folders = named_folders(code_map())
    packages = {p.parent.name for p in SRC.rglob("__init__.py")} - {"jiaowei"}
    missing = sorted(packages - folders)
    assert not missing, f"packages missing from the README's map: {missing}"


def test_every_module_the_map_names_exists() -> None:
    existing = {p.name for folder in ("src", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")}
    ghosts = sorted(named_modules(code_map()) - existing)
    assert not ghosts, f"the README's map names modules that do not exist: {ghosts}"


def test_the_checks_catch_a_stale_map() -> None:
    stale = "src/jiaowei/\n  registry/   values.py (gone)\n"
    assert "values.py" in named_modules(stale) and "registry" in named_folders(stale)
    assert "formats" not in named_folders(stale)
