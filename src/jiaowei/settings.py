"""Settings, read from environment variables with the ``JIAOWEI_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from jiaowei.errors import ConfigurationError

DEFAULT_SECRET = "change-me-jiaowei-development-secret"


class Settings(BaseSettings):
    """Everything an operator can set. See docs/operators.md."""

    model_config = SettingsConfigDict(env_prefix="JIAOWEI_", extra="ignore")

    home: Path = Path("var")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET
    environment: str = "development"  # development | production
    session_hours: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    lookup_max_failures_per_address: int = 20  # failed family lookups per client address per window
    default_language: str = "zh_CN"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'jiaowei.sqlite3').as_posix()}"

    def check_production(self) -> None:
        """Refuse to run in production with the default secret."""
        if self.environment == "production" and self.secret_key in ("", DEFAULT_SECRET):
            raise ConfigurationError(
                "JIAOWEI_SECRET_KEY is the development default; set a long random secret "
                "before running with JIAOWEI_ENVIRONMENT=production."
            )
        if self.environment not in ("development", "production"):
            raise ConfigurationError(
                f"JIAOWEI_ENVIRONMENT={self.environment!r} is not valid; "
                "accepted values: development, production."
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
