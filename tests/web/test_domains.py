"""The domain descriptors: each is complete; the app, pages, tables and CLI are exactly what they declare."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from fastapi import APIRouter
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import Table

from jiaowei import domains
from jiaowei.cli.main import app as cli_app
from jiaowei.db.base import metadata
from jiaowei.i18n import catalog
from jiaowei.settings import Settings
from jiaowei.web import render
from jiaowei.web.app import create_app

SRC = Path(domains.__file__).parent
ADMIN_COMMANDS = ["init", "demo", "serve", "backup", "restore"]  # jiaowei.cli.admin, not a domain's


def python_modules() -> list[tuple[str, ast.Module]]:
    """Every module under src/jiaowei (migrations aside), by dotted name, parsed."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" not in path.parts:
            name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
            found.append((name, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def assigns(tree: ast.Module, target: str, call: str) -> bool:
    """Whether the module binds ``target = call(...)`` at its top level."""
    return any(isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
               and isinstance(node.value.func, ast.Name) and node.value.func.id == call
               and any(isinstance(t, ast.Name) and t.id == target for t in node.targets)
               for node in tree.body)


def defines_tables(tree: ast.Module) -> bool:
    """Whether the module calls ``Table(name, metadata, ...)``."""
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Table"
               and len(node.args) > 1 and isinstance(node.args[1], ast.Name) and node.args[1].id == "metadata"
               for node in ast.walk(tree))


@pytest.mark.parametrize("module", domains.ALL)
def test_each_descriptor_is_complete(module):
    domain = importlib.import_module(module).DOMAIN
    assert isinstance(domain, domains.Domain)
    assert module == f"jiaowei.{domain.name}.domain"  # the name is the package's
    for name in domain.api + domain.pages:
        assert name.startswith(f"jiaowei.{domain.name}.")
        assert isinstance(importlib.import_module(name).router, APIRouter), name
    if domain.pages or domain.templates is not None:  # a domain without pages (dhis2) has no templates
        assert domain.templates == SRC / domain.name / "templates" and domain.templates.is_dir()
    tables = (domain.tables,) if isinstance(domain.tables, str) else domain.tables or ()
    for table_module in tables:
        assert table_module.startswith(f"jiaowei.{domain.name}.")
        importlib.import_module(table_module)
    for group in domain.cli:
        assert isinstance(domains.load(group.app), typer.Typer), group
    for entry in domain.nav:
        assert entry.href.startswith("/") and entry.key and entry.title
        assert not (entry.public and entry.permission)  # visitors have no permissions
    for card in domain.cards:
        assert card.href is not None and card.href.startswith("/")  # a domain's own module is built


def test_every_router_table_and_templates_folder_belongs_to_a_domain():
    declared = domains.router_modules()
    assert len(declared) == len(set(declared))
    modules = python_modules()
    assert sorted(declared) == sorted(name for name, tree in modules if assigns(tree, "router", "APIRouter"))
    assert sorted(domains.table_modules()) == sorted(name for name, tree in modules if defines_tables(tree))
    folders = [domain.templates for domain in domains.with_templates()]
    assert sorted(folders) == sorted(path for path in SRC.rglob("templates") if path.is_dir())


def test_the_app_includes_the_declared_routers_in_their_order(tmp_path):
    app = create_app(Settings(home=tmp_path, secret_key="test-secret-" + "x" * 32))
    included = [route.original_router for route in app.routes if hasattr(route, "original_router")]
    declared = [domains.load(module).router for module in domains.router_modules()]
    assert [id(router) for router in included] == [id(router) for router in declared]
    api = sum(len(domain.api) for domain in domains.domains())  # API routers first, then pages
    assert all(router.include_in_schema for router in declared[:api])
    assert not any(router.include_in_schema for router in declared[api:])


def test_templates_are_searched_in_the_declared_folders_the_frame_first():
    loader = render.environment.loader
    assert isinstance(loader, ChoiceLoader)
    searched = [Path(path) for inner in loader.loaders if isinstance(inner, FileSystemLoader)
                for path in inner.searchpath]
    assert searched == [domain.templates for domain in domains.with_templates()]
    assert searched[0] == SRC / domains.SHELL / "templates"
    assert tuple(domain.name for domain in domains.with_templates()) == render.DOMAINS
    names = [str(path.relative_to(folder)) for folder in searched for path in folder.rglob("*.html")]
    assert len(names) == len(set(names)), "a template name in two folders: one would shadow the other"


def test_the_tables_are_those_the_descriptors_name():
    from jiaowei.db import tables

    assert tables.metadata is metadata
    declared = {
        value.name for module in domains.table_modules()
        for value in vars(importlib.import_module(module)).values() if isinstance(value, Table)
    }
    assert declared == set(metadata.tables)


def test_the_command_line_has_the_declared_groups_in_their_order():
    groups = [(info.name, info.typer_instance) for info in cli_app.registered_groups]
    declared = [(group.name, domains.load(group.app)) for group in domains.cli_groups()]
    assert groups == declared
    assert [command.callback.__name__ for command in cli_app.registered_commands] == ADMIN_COMMANDS


def test_the_command_line_starts_without_the_web_framework():
    web = "{'fastapi', 'starlette', 'jinja2'}"
    code = f"import sys, jiaowei.cli.main; print(sorted({web} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(("argv", "loaded"), [
    (["user", "--help"], ["jiaowei.cli.accounts"]),  # the group named, and no other
    (["init", "--help"], []),  # an administration command: no group
])
def test_a_command_imports_only_the_group_it_names(argv: list[str], loaded: list[str]) -> None:
    groups = sorted({group.app.partition(":")[0] for group in domains.cli_groups()})
    code = (f"import sys; sys.argv = ['jiaowei', *{argv!r}]\nfrom jiaowei.cli.main import main\n"
            f"try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print(sorted(set({groups!r}) & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == repr(loaded), result.stdout


def test_navigation_and_home_cards_are_ordered_and_translated():
    zh = catalog("zh_CN")
    entries, cards = domains.navigation(), domains.home_cards()
    assert len({e.order for e in entries}) == len(entries) and len({c.order for c in cards}) == len(cards)
    assert len({c.key for c in cards}) == len(cards)
    assert domains.PLANNED == ()  # every module on the home page is built
    assert all(c.href for c in cards)
    messages = [e.title for e in entries] + [m for c in cards for m in (c.title, c.description)]
    assert [m for m in messages if m not in zh] == []
    assert render.environment.globals["navigation"] == entries
