"""No ``async def`` of the web code touches the database (issue 9; issue 17, item 1).

FastAPI runs an ``async def`` route or dependency on the event loop itself: a query there stops every
other request while it waits (for SQLite's lock, for PostgreSQL), so a slow lock hangs the server.
Database work belongs in plain ``def`` functions, which FastAPI runs in its threadpool. This test reads
every ``api.py``, ``pages.py``, ``*_api.py``, ``*_pages.py``, ``uploads.py`` and ``web/*.py`` with
``ast`` and fails on an ``async def`` that takes a connection, names one, reaches ``app.state.db`` or
calls into a module that queries (a service, queries, store, transfer, exchange…). The checker is also
run over synthetic sources that break the rule, so a checker that cannot fail fails here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "jiaowei"

CONNECTION_TYPES = {"Conn", "Connection", "RequestConnection", "Engine", "Database"}
CONNECTION_NAMES = {"conn", "connection", "engine", "db"}
QUERYING_MODULES = {"service", "queries", "store", "transfer", "exchange", "writing", "checking", "catalog",
                    "groups", "engine", "backup", "migrate", "audit_checks", "reconcile", "token_use"}


def web_modules() -> list[Path]:
    patterns = ("**/api.py", "**/pages.py", "**/*_api.py", "**/*_pages.py", "**/uploads.py", "web/*.py")
    return sorted({path for pattern in patterns for path in SRC.glob(pattern)})


def _querying_names(tree: ast.Module) -> set[str]:
    """Names bound to a querying module, or to a function imported from one."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jiaowei"):
            from_querying = node.module.rsplit(".", 1)[-1] in QUERYING_MODULES
            for alias in node.names:
                if from_querying or alias.name in QUERYING_MODULES:
                    found.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jiaowei") and alias.name.rsplit(".", 1)[-1] in QUERYING_MODULES:
                    found.add(alias.asname or alias.name.split(".")[0])
    return found


def _annotation_names(node: ast.expr | None) -> set[str]:
    if node is None:
        return set()
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} | {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def violations(source: str, where: str = "<source>") -> Iterator[str]:
    """``file:line: what`` for each database access inside an ``async def``."""
    tree = ast.parse(source)
    querying = _querying_names(tree)
    for function in ast.walk(tree):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        arguments = function.args.args + function.args.kwonlyargs + function.args.posonlyargs
        connections = set(CONNECTION_NAMES)
        for argument in arguments:
            if _annotation_names(argument.annotation) & CONNECTION_TYPES:
                connections.add(argument.arg)
                name = function.name
                yield f"{where}:{function.lineno}: async def {name} takes a connection ({argument.arg})"
        for node in ast.walk(function):
            line = getattr(node, "lineno", function.lineno)
            if isinstance(node, ast.Name) and node.id in connections:
                yield f"{where}:{line}: async def {function.name} uses {node.id}"
            elif isinstance(node, ast.Attribute) and node.attr == "db" and _is_state(node.value):
                yield f"{where}:{line}: async def {function.name} reaches app.state.db"
            elif isinstance(node, ast.Call) and _root(node.func) in querying:
                yield f"{where}:{line}: async def {function.name} calls {ast.unparse(node.func)}"


def _is_state(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "state"


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_no_async_def_of_the_web_code_touches_the_database() -> None:
    modules = web_modules()
    assert len(modules) > 15 and SRC / "web" / "deps.py" in modules
    found = [v for path in modules for v in violations(path.read_text(encoding="utf-8"),
                                                        str(path.relative_to(SRC)))]
    assert found == []


SYNTHETIC = {
    "a connection parameter": """
from jiaowei.web.deps import Conn
async def route(conn: Conn) -> None:
    pass
""",
    "a service call": """
from jiaowei.auth import service as auth
async def who(request):
    return auth.resolve_session(request.state.conn, token="x")
""",
    "a function imported from queries": """
from jiaowei.registry.queries import list_units
async def units(request):
    return list_units(None)
""",
    "the app's database": """
async def dependency(request):
    with request.app.state.db.transaction() as c:
        pass
""",
    "an annotated string connection": """
async def dependency(request, c: "Connection"):
    return c
""",
}


def test_the_checker_finds_each_kind_of_violation() -> None:
    for name, source in SYNTHETIC.items():
        assert list(violations(source)), name
    fine = "async def csrf(request):\n    form = await request.form()\n    return form.get('csrf_token')\n"
    assert list(violations(fine)) == []
    assert list(violations(SYNTHETIC["a service call"].replace("async def", "def"))) == []


def test_the_old_principal_dependency_is_a_violation() -> None:
    """What web/deps.py held before: an async dependency that resolved the session on the event loop."""
    old = """
from jiaowei.web.deps import Conn
async def optional_principal(request, conn: Conn, background):
    principal = _principal(request, conn, background)
    await check_csrf(request)
    return principal
"""
    assert len(list(violations(old))) >= 2
