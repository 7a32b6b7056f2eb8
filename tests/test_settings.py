"""Settings: production refuses the default secret; every setting and command is documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.models import CommandInfo

from jiaowei.cli.main import app as cli_app
from jiaowei.errors import ConfigurationError
from jiaowei.settings import DEFAULT_SECRET, Settings
from jiaowei.web.app import create_app

OPERATORS = (Path(__file__).parent.parent / "docs" / "operators.md").read_text(encoding="utf-8")


def test_production_with_the_default_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="JIAOWEI_SECRET_KEY"):
        create_app(Settings(home=tmp_path, environment="production", secret_key=DEFAULT_SECRET))


def test_production_with_a_real_secret_starts(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, environment="production", secret_key="s" * 48))
    assert app.state.settings.environment == "production"


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
