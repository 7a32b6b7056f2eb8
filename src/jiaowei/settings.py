"""Settings, read from environment variables with the ``JIAOWEI_`` prefix."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jiaowei.errors import M_, ConfigurationError

DEFAULT_SECRET = "change-me-jiaowei-development-secret"
MIN_SECRET_BYTES = 32  # a production secret's least length (UTF-8 bytes)
MIN_SECRET_DISTINCT = 16  # and least number of different characters: "x" * 40 is not a secret
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def weak_secret(secret: str) -> bool:
    """Whether ``secret`` is too short or too repetitive to key production's sessions and seals."""
    return len(secret.encode()) < MIN_SECRET_BYTES or len(set(secret)) < MIN_SECRET_DISTINCT


def valid_random_page_cost(value: float) -> bool:
    """Whether ``value`` can be ``JIAOWEI_DB_RANDOM_PAGE_COST``: 0 (the server's own) or positive."""
    return math.isfinite(value) and value >= 0


PLAN_CACHE_MODES = ("auto", "force_custom_plan", "force_generic_plan")  # PostgreSQL's plan_cache_mode
RANDOM_PAGE_COST = 1.1  # PostgreSQL's random_page_cost per connection: tables in memory (decision 0021)


class Settings(BaseSettings):
    """Everything an operator can set. See docs/operators.md."""

    model_config = SettingsConfigDict(env_prefix="JIAOWEI_", extra="ignore")

    home: Path = Path("var")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET
    environment: str = "development"  # development | production
    session_hours: int = 12
    token_days: int = 90  # how long a new API token is valid (jiaowei token create --days overrides)
    login_max_failures: int = 5  # failed logins for one account from one address before each try waits
    login_window_minutes: int = 15  # how long failures count; the longest wait
    login_max_failures_per_account: int = 20  # past this, addresses failing on the account wait longer
    login_max_failures_per_address: int = 30  # failed logins from one address, any account, then waits
    lookup_max_failures_per_address: int = 20  # failed family lookups per client address per window
    default_language: str = "zh_CN"
    # Limits and time-outs (docs/operators.md, "Limits and time-outs").
    max_body_bytes: int = 1024 * 1024  # an ordinary request's body
    max_upload_bytes: int = 100 * 1024 * 1024  # a file route's body (300,000 values: 23 MB CSV, 58 MB JSON)
    max_xlsx_unpacked_bytes: int = 256 * 1024 * 1024  # an uploaded workbook's parts, uncompressed
    header_timeout_seconds: float = 10.0  # to receive a request's headers (jiaowei serve)
    body_timeout_seconds: float = 30.0  # to receive an ordinary request's whole body
    upload_timeout_seconds: float = 600.0  # to receive a file's whole body
    lock_timeout_seconds: float = 5.0  # a request's wait for a database lock or connection, then 503
    statement_timeout_seconds: float = 0.0  # PostgreSQL: longest statement of a request (0: none)
    analytics_memory_limit: str = "1GB"  # DuckDB's limit for the analytics copy (it spills to disk past it)
    analytics_threads: int = 2  # DuckDB threads per query
    analytics_dir: Path | None = None  # where the analytics copy's file lives (default: the system's temp)
    audit_key_file: Path | None = None  # Ed25519 key signing audit checkpoints; keep it off the database
    today: dt.date | None = None  # fixes the day date rules count from (tests, demos); default: today
    time_zone: str = "Asia/Shanghai"  # the commission's time zone: times are shown in it, "today" is its day
    evidence_dir: Path | None = None  # where evidence files are kept (default: <home>/evidence)
    evidence_max_bytes: int = 20 * 1024 * 1024  # the largest evidence file accepted
    smtp_host: str = ""  # the mail server the plans digest is sent through; empty: no email
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    digest_to: str = ""  # comma-separated addresses that receive `jiaowei plans digest --email`
    cjk_font: Path | None = None  # a CJK font file for PDF reports (default: looked for; docs/reports.md)
    # Deployment (docs/operators.md, "Deploying").
    forwarded_allow_ips: str = "127.0.0.1,::1"  # proxies whose X-Forwarded-For/-Proto are trusted ("*": any)
    api_docs: bool | None = None  # /docs, /redoc, /openapi.json; default: in development, not in production
    log_format: str = "text"  # one line per request: "text" or "json" (docs/operators.md, "Logs")
    metrics_token: str = ""  # /metrics answers a Bearer of this token; empty: /metrics is off (404)
    db_pool_size: int = 5  # connections kept open per process (docs/operators.md, "PostgreSQL settings")
    db_max_overflow: int = 10  # connections opened past the pool size at busy times, then closed
    db_plan_cache_mode: str = "auto"  # PostgreSQL's plan_cache_mode per connection (decision 0021)
    db_random_page_cost: float = RANDOM_PAGE_COST  # PostgreSQL's random_page_cost; 0: the server's own

    @field_validator("db_plan_cache_mode")
    @classmethod
    def _known_plan_cache_mode(cls, value: str) -> str:
        if value not in PLAN_CACHE_MODES:
            raise ValueError(f"JIAOWEI_DB_PLAN_CACHE_MODE={value!r} is not valid; accepted values: "
                             f"{', '.join(PLAN_CACHE_MODES)}")
        return value

    @field_validator("db_random_page_cost")
    @classmethod
    def _known_random_page_cost(cls, value: float) -> float:
        if not valid_random_page_cost(value):
            raise ValueError(f"JIAOWEI_DB_RANDOM_PAGE_COST={value!r} is not valid; accepted values: 0 (the "
                             f"server's own value) or a positive number such as {RANDOM_PAGE_COST}")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError(f"JIAOWEI_LOG_FORMAT={value!r} is not valid; accepted values: text, json")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"JIAOWEI_TIME_ZONE={value!r} is not a time zone; accepted: an IANA name "
                             "such as Asia/Shanghai or UTC") from error
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'jiaowei.sqlite3').as_posix()}"

    @property
    def api_docs_served(self) -> bool:
        """Whether the API's documentation and OpenAPI document are served (JIAOWEI_API_DOCS)."""
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    def check_production(self) -> None:
        """Refuse to run in production with the default secret or a weak one."""
        if self.environment == "production" and self.secret_key in ("", DEFAULT_SECRET):
            raise ConfigurationError(
                "JIAOWEI_SECRET_KEY is the development default; set a long random secret "
                "before running with JIAOWEI_ENVIRONMENT=production."
            )
        if self.environment == "production" and weak_secret(self.secret_key):
            raise ConfigurationError(M_(
                "JIAOWEI_SECRET_KEY is too weak for production: it needs at least {bytes} bytes and "
                "{distinct} different characters. Make one with: {command}",
                bytes=MIN_SECRET_BYTES, distinct=MIN_SECRET_DISTINCT, command=MAKE_SECRET))
        if self.environment not in ("development", "production"):
            raise ConfigurationError(
                f"JIAOWEI_ENVIRONMENT={self.environment!r} is not valid; "
                "accepted values: development, production."
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


_ACTIVE: ContextVar[Settings | None] = ContextVar("jiaowei_active_settings", default=None)


def active_settings() -> Settings:
    """The settings of the app serving this request (``web/app.py`` sets them), else the environment's.

    For the few services that need a setting but are called from many places (evidence files' folder
    and size limit); everything else is handed its settings explicitly.
    """
    return _ACTIVE.get() or get_settings()


@contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` the active ones inside the block (the app does this for each request)."""
    token = _ACTIVE.set(settings)
    try:
        yield settings
    finally:
        _ACTIVE.reset(token)
