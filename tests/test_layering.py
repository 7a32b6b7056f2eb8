"""Who may import what, and how big a module or a folder may grow, read from the source with ast.

Nothing under test is imported: each check parses ``src/jiaowei`` and lists violations, and each
check is also run over a small synthetic source that breaks it, so a checker that can never fail
fails here. The rules are those of docs/contributing.md and issue 8:

- only the registry itself, ``auth/scope.py`` and ``db/`` (which collects tables for migrations)
  import ``jiaowei.registry.store``; every other domain reads units through
  ``jiaowei.registry.queries``;
- a pure engine imports only the standard library, numpy, ``jiaowei.errors`` and other pure engines;
- no ``service.py``, ``queries.py``, ``store.py`` or ``model.py`` imports fastapi, starlette or
  ``jiaowei.web``;
- no folder under ``src/jiaowei`` holds more than 16 Python modules, and no module is over 800 lines
  (migrations excepted from both).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "jiaowei"

STORE = "jiaowei.registry.store"
MAY_IMPORT_STORE = ("jiaowei.registry", "jiaowei.auth.scope", "jiaowei.db")
PURE_ENGINES = frozenset({
    "jiaowei.indicators.periods",
    "jiaowei.indicators.expressions",
    "jiaowei.indicators.model",
    "jiaowei.registry.model",
    "jiaowei.admissions.engine",
    "jiaowei.admissions.model",
    "jiaowei.admissions.rfc3797",
})
ENGINES_MAY_IMPORT = PURE_ENGINES | {"jiaowei.errors"}
LAYER_FILES = frozenset({"service.py", "queries.py", "store.py", "model.py"})
WEB = ("fastapi", "starlette", "jiaowei.web")
MAX_MODULES_PER_FOLDER = 16
MAX_LINES = 800


# ---------------------------------------------------------------- reading imports


def module_name(path: Path, root: Path = SRC) -> str:
    """``jiaowei.a.b`` for ``<root>/a/b.py`` (and ``jiaowei.a`` for ``<root>/a/__init__.py``)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line, candidates) for every import anywhere in the source, functions included.

    ``import a.b`` gives ``("a.b",)``; ``from a import b`` gives ``("a", "a.b")``, since ``b`` may be
    a module or a name in ``a``. Relative imports are resolved against ``module``.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, (alias.name,)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            for alias in node.names:
                yield node.lineno, (base, f"{base}.{alias.name}")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def sources(root: Path = SRC) -> dict[str, tuple[str, bool]]:
    """Every module under ``root``: name → (source, is a package)."""
    return {
        module_name(p, root): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(root.rglob("*.py"))
    }


# ---------------------------------------------------------------- the checks


def store_violations(modules: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Modules outside the registry, auth/scope.py and db/ that import the registry's store."""
    out = []
    for name, (source, is_package) in modules.items():
        if any(_under(name, allowed) for allowed in MAY_IMPORT_STORE):
            continue
        for line, candidates in imports(source, name, is_package):
            if any(_under(c, STORE) for c in candidates):
                out.append(f"{name}:{line} imports {STORE}; use jiaowei.registry.queries")
    return list(dict.fromkeys(out))


def _engine_may_import(candidate: str) -> bool:
    top = candidate.partition(".")[0]
    return top in sys.stdlib_module_names or top == "numpy" or candidate in ENGINES_MAY_IMPORT


def engine_violations(modules: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Imports of pure engines other than the standard library, numpy, errors and other engines."""
    out = []
    for name in sorted(PURE_ENGINES & modules.keys()):
        source, is_package = modules[name]
        for line, candidates in imports(source, name, is_package):
            if not any(_engine_may_import(c) for c in candidates):
                out.append(f"{name}:{line} is a pure engine but imports {candidates[-1]}")
    return out


def web_violations(modules: Mapping[str, tuple[str, bool]]) -> list[str]:
    """service, queries, store and model modules that import a web framework or jiaowei.web."""
    out = []
    for name, (source, is_package) in modules.items():
        if is_package or name.rpartition(".")[2] + ".py" not in LAYER_FILES:
            continue
        for line, candidates in imports(source, name, is_package):
            if any(_under(c, web) for c in candidates for web in WEB):
                out.append(f"{name}:{line} imports {candidates[-1]}, a web layer")
    return out


def size_violations(root: Path = SRC) -> list[str]:
    """Folders with more than 16 Python modules, and modules over 800 lines (migrations excepted from both:
    they are a sequence that only grows, one file per schema change, not a design to split)."""
    out = []
    for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
        if "migrations" in folder.relative_to(root).parts:
            continue
        count = len(list(folder.glob("*.py")))
        if count > MAX_MODULES_PER_FOLDER:
            out.append(f"{folder.relative_to(root.parent)} holds {count} Python modules")
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            out.append(f"{path.relative_to(root.parent)} has {lines} lines")
    return out


# ---------------------------------------------------------------- the rules hold in src/jiaowei


def test_only_the_registry_reads_its_store() -> None:
    assert store_violations(sources()) == []


def test_pure_engines_import_only_the_standard_library_numpy_and_errors() -> None:
    modules = sources()
    assert modules.keys() >= PURE_ENGINES, "a pure engine was moved or renamed: update PURE_ENGINES"
    assert engine_violations(modules) == []


def test_services_queries_stores_and_models_know_no_web_framework() -> None:
    assert web_violations(sources()) == []


def test_folders_and_modules_stay_small() -> None:
    assert size_violations() == []


# ---------------------------------------------------------------- each check can fail


def _one(name: str, source: str, is_package: bool = False) -> dict[str, tuple[str, bool]]:
    return {name: (source, is_package)}


def test_the_store_check_sees_every_form_of_import() -> None:
    forms = [
        "from jiaowei.registry import store\n",
        "from jiaowei.registry import store as registry_store\n",
        "from jiaowei.registry.store import units, unit_paths\n",
        "import jiaowei.registry.store\n",
        "import jiaowei.registry.store as s\n",
        "def f():\n    from jiaowei.registry.store import units\n    return units\n",
        "class C:\n    def m(self):\n        import jiaowei.registry.store\n",
    ]
    for source in forms:
        assert store_violations(_one("jiaowei.indicators.values.service", source)), source
    relative = "from ...registry import store\n"
    assert store_violations(_one("jiaowei.indicators.values.service", relative))
    assert store_violations(_one("jiaowei.admissions", "from ..registry.store import units\n", True))


def test_the_store_check_lets_the_registry_scope_and_db_through() -> None:
    source = "from jiaowei.registry import store\n"
    for name in ("jiaowei.registry.service", "jiaowei.registry.queries", "jiaowei.auth.scope",
                 "jiaowei.db.tables"):
        assert store_violations(_one(name, source)) == [], name
    assert store_violations(_one("jiaowei.auth.service", source))
    fine = "from jiaowei.registry import queries\nfrom jiaowei.registry.model import FOREVER\n"
    assert store_violations(_one("jiaowei.auth.service", fine)) == []


def test_the_engine_check_rejects_anything_but_stdlib_numpy_errors_and_engines() -> None:
    name = "jiaowei.indicators.periods"
    fine = (
        "from __future__ import annotations\nimport re\nimport numpy as np\n"
        "from numpy.typing import NDArray\nfrom jiaowei.errors import Problem\nfrom jiaowei import errors\n"
        "from jiaowei.admissions.model import X\n"
    )
    assert engine_violations(_one(name, fine)) == []
    for bad in (
        "import sqlalchemy\n",
        "from sqlalchemy import select\n",
        "from jiaowei.registry import store\n",
        "from jiaowei.indicators.metadata.service import Catalog\n",
        "def f():\n    import pandas\n",
        "from . import store\n",
    ):
        assert engine_violations(_one(name, bad)), bad
    assert engine_violations(_one("jiaowei.indicators.service", "import sqlalchemy\n")) == []


def test_the_web_check_watches_service_queries_store_and_model() -> None:
    for bad in (
        "from fastapi import Request\n",
        "import starlette.responses\n",
        "from jiaowei.web.deps import Conn\n",
        "from jiaowei import web\n",
        "def f():\n    from jiaowei.web import render\n",
    ):
        for module in ("service", "queries", "store", "model"):
            assert web_violations(_one(f"jiaowei.plans.{module}", bad)), (module, bad)
    assert web_violations(_one("jiaowei.plans.api", "from fastapi import APIRouter\n")) == []
    assert web_violations(_one("jiaowei.plans.service", "from jiaowei.website import x\n")) == []


def test_the_size_check_counts_modules_per_folder_and_lines_per_module(tmp_path: Path) -> None:
    root = tmp_path / "jiaowei"
    (root / "crowded").mkdir(parents=True)
    (root / "roomy").mkdir()
    for n in range(MAX_MODULES_PER_FOLDER + 1):
        (root / "crowded" / f"m{n}.py").write_text("x = 1\n")
    for n in range(MAX_MODULES_PER_FOLDER):
        (root / "roomy" / f"m{n}.py").write_text("x = 1\n")
    (root / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (root / "short.py").write_text("x = 1\n" * MAX_LINES)
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "db" / "migrations" / "0001_long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (root / "db" / "migrations" / "versions").mkdir()
    for n in range(MAX_MODULES_PER_FOLDER + 1):
        (root / "db" / "migrations" / "versions" / f"{n:04}_step.py").write_text("x = 1\n")
    found = size_violations(root)
    assert found == [
        f"jiaowei/crowded holds {MAX_MODULES_PER_FOLDER + 1} Python modules",
        f"jiaowei/long.py has {MAX_LINES + 1} lines",
    ]


def test_module_names_follow_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "jiaowei"
    assert module_name(root / "registry" / "queries.py", root) == "jiaowei.registry.queries"
    assert module_name(root / "registry" / "__init__.py", root) == "jiaowei.registry"


def test_dates_come_from_the_commissions_clock() -> None:
    """The server's own date (``date.today()``, ``datetime.now()`` without a zone) is a day off on a UTC
    host between midnight in Shanghai and 08:00 UTC; every date rule counts from ``clock.today()``."""
    local = re.compile(r"\b(?:date\.today|datetime\.today|datetime\.now)\(\s*\)")
    found = [f"{path.relative_to(SRC)}:{n}: {line.strip()}" for path in sorted(SRC.rglob("*.py"))
             if path.name != "clock.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if local.search(line)]
    assert found == []
