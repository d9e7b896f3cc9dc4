"""Typed settings from ``JOBSVIEW_*`` environment variables and ``.env``.

Each entry point (a CLI command, the web app factory, a flow run's entry) calls
``load_settings()`` once and passes the ``Settings`` down; nothing else reads the environment.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import (
    AnyHttpUrl,
    Field,
    NonNegativeInt,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from chunking import SyncSize
from core.errors import ConfigError
from core.redact import has_credentials, redact_url
from core.validation import plain_message, validate_resource

ENV_PREFIX = "JOBSVIEW_"
MIB = 1024 * 1024


class TaskRunnerKind(enum.StrEnum):
    THREADS = "threads"
    DASK = "dask"


def _check_db_url(value: str) -> str:
    try:
        make_url(value)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ValueError(
            "not a database URL; use e.g. sqlite:///jobsview.db or "
            "postgresql+psycopg://user@host:5432/db"
        ) from exc
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///jobsview.db"
    destination_url: str | None = None
    source_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8765")
    source_token: SecretStr | None = None
    source_token_block: str | None = None
    resources: Annotated[tuple[str, ...], NoDecode] = ("contacts", "deals")
    sync_size: SyncSize = SyncSize.MEDIUM
    page_size: PositiveInt = 100
    # Records inserted or deleted ahead of a record during a run that it survives; None: a page.
    drift_margin: NonNegativeInt | None = None
    max_chunks_per_job: PositiveInt = 10_000
    max_record_bytes: PositiveInt = 16 * MIB
    max_concurrent_chunks: PositiveInt = 4
    chunk_retries: NonNegativeInt = 3
    chunk_retry_delay_seconds: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    stale_after_seconds: PositiveInt = 60
    watermark_lag_seconds: NonNegativeInt = 300
    task_runner: TaskRunnerKind = TaskRunnerKind.THREADS
    dask_address: str | None = None
    api_token: SecretStr | None = None
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    http_timeout_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    source_rate_limit: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    auto_resume_attempts: NonNegativeInt = 2
    auto_resume_delay_seconds: float = Field(default=60.0, ge=0, allow_inf_nan=False)

    @field_validator("database_url", "destination_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_db_url(value)

    @field_validator("source_token", "api_token", "source_token_block", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("resources", mode="before")
    @classmethod
    def _split_resources(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not value:
            raise ValueError("name at least one resource, e.g. contacts,deals")
        if not isinstance(value, list | tuple):
            raise ValueError("a comma-separated list of resources, e.g. contacts,deals")
        return tuple(validate_resource(str(v)) for v in value)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Settings:
        # httpx would send the URL's user:password as Basic auth and drop the bearer token.
        if self.source_token and has_credentials(str(self.source_url)):
            raise ValueError(
                "JOBSVIEW_SOURCE_URL holds a user name or password while "
                "JOBSVIEW_SOURCE_TOKEN is set; remove the credentials from the URL"
            )
        return self

    @property
    def margin(self) -> int:
        """JOBSVIEW_DRIFT_MARGIN, or one page when unset."""
        return self.page_size if self.drift_margin is None else self.drift_margin

    @property
    def destination(self) -> str:
        return self.destination_url or self.database_url

    @property
    def source_base(self) -> str:
        return str(self.source_url).rstrip("/")

    def environment(self) -> dict[str, str]:
        """These settings as ``JOBSVIEW_*`` variables, secrets included: the environment of
        a child process that must run with them (``jobsview run`` started by the web)."""
        env = {}
        for name, value in self:
            if value is None:
                continue  # unset in the child too: its .env is the one these were read with
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return env


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        msg = redact_url(plain_message(err["msg"]))
        if not err["loc"]:  # a rule across settings names them itself
            lines.append(msg)
            continue
        field = str(err["loc"][0])
        got = err.get("input")
        shown = "" if field.endswith("token") or got is None else redact_url(f" (got {got!r})")
        lines.append(f"{ENV_PREFIX}{field.upper()}: {msg}{shown}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment and ``.env``, with ``overrides`` on top; a bad value
    is a ``ConfigError`` naming each variable that is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
