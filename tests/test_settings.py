"""Settings: production refuses the default secret and weak ones, serves no API docs unless asked, refuses
the demo without --force; every setting and command is documented."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.models import CommandInfo

from jiaowei.cli.main import app as cli_app
from jiaowei.errors import ConfigurationError
from jiaowei.settings import DEFAULT_SECRET, MAKE_SECRET, Settings
from jiaowei.web.app import create_app

OPERATORS = (Path(__file__).parent.parent / "docs" / "operators.md").read_text(encoding="utf-8")


def test_production_with_the_default_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="JIAOWEI_SECRET_KEY"):
        create_app(Settings(home=tmp_path, environment="production", secret_key=DEFAULT_SECRET))


def test_production_with_a_real_secret_starts(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, environment="production", secret_key=secrets.token_urlsafe(48)))
    assert app.state.settings.environment == "production"
    create_app(Settings(home=tmp_path, environment="production", secret_key="0123456789abcdefABCDEF-_0123456"
                                                                             "7"))  # 32 bytes, 22 kinds


WEAK = ["x",  # the issue's: accepted before
        "s" * 48,  # long, one character
        "abcdefghij" * 4,  # 40 bytes, 10 kinds of character
        "Zq7xK2mP9vL4nR8tW3yB6cD1fH5jG0s"]  # 31 varied characters: one byte short


@pytest.mark.parametrize("weak", WEAK)
def test_production_refuses_a_weak_secret_and_says_how_to_make_one(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ConfigurationError, match="too weak") as refused:
        create_app(Settings(home=tmp_path, environment="production", secret_key=weak))
    assert MAKE_SECRET in str(refused.value.detail)


@pytest.mark.parametrize("weak", WEAK)
def test_development_accepts_any_secret(tmp_path: Path, weak: str) -> None:
    assert create_app(Settings(home=tmp_path, secret_key=weak)).state.settings.secret_key == weak


def test_serve_in_production_with_a_weak_secret_exits_with_the_recipe(tmp_path: Path) -> None:
    env = {**os.environ, "JIAOWEI_ENVIRONMENT": "production", "JIAOWEI_HOME": str(tmp_path),
           "JIAOWEI_SECRET_KEY": "x"}
    done = subprocess.run([sys.executable, "-m", "jiaowei", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == ConfigurationError.exit_code
    assert "secrets.token_urlsafe(48)" in done.stderr and "Traceback" not in done.stderr


def test_production_refuses_the_demo_without_force(tmp_path: Path) -> None:
    env = {**os.environ, "JIAOWEI_ENVIRONMENT": "production", "JIAOWEI_HOME": str(tmp_path),
           "JIAOWEI_SECRET_KEY": secrets.token_urlsafe(48)}
    env.pop("JIAOWEI_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "jiaowei", "demo"], env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == ConfigurationError.exit_code
    assert "--force" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "jiaowei.sqlite3").exists()  # refused before the database is touched


DOCS = ("/docs", "/redoc", "/openapi.json")


@pytest.mark.parametrize(("environment", "api_docs", "served"), [
    ("development", None, True), ("production", None, False), ("production", True, True),
    ("development", False, False)])
def test_api_docs_are_off_in_production_unless_asked(tmp_path: Path, environment: str, api_docs: bool | None,
                                                     served: bool) -> None:
    settings = Settings(home=tmp_path, environment=environment, api_docs=api_docs,
                        secret_key=secrets.token_urlsafe(48))
    with TestClient(create_app(settings)) as client:
        answers = {path: client.get(path).status_code for path in DOCS}
    assert answers == dict.fromkeys(DOCS, 200 if served else 404)


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="development, production"):
        create_app(Settings(home=tmp_path, environment="staging", secret_key="s" * 48))


def test_serve_in_production_with_the_default_secret_exits_with_a_message(tmp_path: Path) -> None:
    env = {**os.environ, "JIAOWEI_ENVIRONMENT": "production", "JIAOWEI_HOME": str(tmp_path)}
    env.pop("JIAOWEI_SECRET_KEY", None)
    done = subprocess.run([sys.executable, "-m", "jiaowei", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == ConfigurationError.exit_code
    assert "JIAOWEI_SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_setting_is_documented() -> None:
    missing = [f"JIAOWEI_{name.upper()}" for name in Settings.model_fields
               if f"JIAOWEI_{name.upper()}" not in OPERATORS]
    assert missing == []


def _commands(group: typer.Typer, prefix: str = "jiaowei") -> list[str]:
    found = [f"{prefix} {_name_of(c)}" for c in group.registered_commands]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None, sub.name
        found += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return found


def _name_of(command: CommandInfo) -> str:
    if command.name:
        return command.name
    assert command.callback is not None
    return command.callback.__name__.replace("_", "-")


def test_every_command_is_documented() -> None:
    commands = _commands(cli_app)
    assert len(commands) >= 10
    assert [c for c in commands if f"`{c}" not in OPERATORS] == []
