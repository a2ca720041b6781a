"""Settings: `HERALD_*` environment variables over an optional TOML file, built once at start-up.

Nothing reads the environment after `load_settings` returns; the result is passed explicitly to
whatever needs it (see `herald.bootstrap`).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict


class CommandSpec(BaseModel):
    """A deployment command the operator defines; API callers may only name it."""

    argv: list[str] = Field(min_length=1, description="program and arguments, run without a shell")
    timeout: float = Field(default=600.0, gt=0, description="seconds per host before it is killed")
    max_output: int = Field(default=16_384, ge=256, description="bytes of output kept per host")


class EngineSettings(BaseModel):
    lease_seconds: float = Field(default=15.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)
    max_parallel_hosts: int = Field(default=50, ge=1)


class WorkerSettings(BaseModel):
    concurrency: int = Field(default=64, ge=1, description="requests in flight per worker")
    per_target_concurrency: int = Field(default=4, ge=1)
    claim_batch: int = Field(default=100, ge=1)
    poll_interval: float = Field(default=1.0, gt=0, description="fallback poll when no wake-up")
    lease_margin: float = Field(default=15.0, gt=0)
    request_timeout: float = Field(default=10.0, gt=0, description="chat platforms, per attempt")


class ProjectRetention(BaseModel):
    """One project's own history retention; a limit left out is the global one."""

    max_age_days: float | None = Field(default=None, gt=0)
    max_count: int | None = Field(default=None, ge=1)


class RetentionSettings(BaseModel):
    """How long delivery history (finished deliveries and their attempts) is kept.

    Default: 90 days, no count limit. `projects` overrides the limits per project, keyed by
    project id or name. The worker prunes every `interval` seconds, `batch_size` deliveries per
    transaction, pausing `pause` seconds between batches so deliveries keep flowing.
    """

    enabled: bool = True
    max_age_days: float | None = Field(default=90.0, gt=0)
    max_count: int | None = Field(default=None, ge=1, description="finished deliveries per project")
    projects: dict[str, ProjectRetention] = Field(default_factory=dict)
    batch_size: int = Field(default=500, ge=1, le=50_000)
    interval: float = Field(default=600.0, gt=0, description="seconds between pruning rounds")
    pause: float = Field(default=0.05, ge=0, description="seconds between two batches")


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HERALD_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///./herald.db"
    admin_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    locale: str = Field(default="zh", pattern="^(zh|en)$")
    egress_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Every outbound request goes through this proxy (a secret: it may carry a password).
    egress_proxy: SecretStr | None = None
    # A PEM file of CA certificates trusted for targets and an https proxy, besides the system's.
    egress_ca_bundle: str | None = None
    commands: dict[str, CommandSpec] = Field(default_factory=dict)
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    _split_lists = field_validator("egress_allow", "old_secret_keys", mode="before")(_split_csv)

    @field_validator("egress_allow")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"HERALD_EGRESS_ALLOW: {entry!r} is not an IP address or CIDR range "
                    "(e.g. 127.0.0.1/32, 10.20.0.0/16)"
                ) from None
        return value

    @field_validator("egress_proxy", mode="before")
    @classmethod
    def _proxy(cls, value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text in (None, ""):
            return None
        try:
            parts = urlsplit(str(text))
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:
            ok = False
        if not ok or parts.path not in ("", "/") or parts.query:
            raise ValueError(
                "HERALD_EGRESS_PROXY must be http(s)://[user:password@]host:port, "
                "e.g. http://proxy.corp.example:3128"
            )
        return value

    @field_validator("egress_ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"HERALD_EGRESS_CA_BUNDLE: cannot load {value!r} as PEM CA certificates ({exc})"
            ) from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 32:
            raise ValueError(
                "HERALD_SECRET_KEY must be at least 32 characters "
                "(generate one with `herald secrets generate-key`)"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the TOML file, which arrives as init arguments.
        return env_settings, init_settings, file_secret_settings

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def with_overrides(self, **changes: Any) -> Settings:
        return self.model_copy(update=changes)


def load_settings() -> Settings:
    """Build settings from the process environment and the file `HERALD_CONFIG_FILE` names.

    The file is TOML whose keys are the setting names without the prefix
    (`database_url = "…"`, `[commands.deploy-ssh] argv = ["/opt/deploy.sh"]`).
    """
    file_values: dict[str, Any] = {}
    config_file = os.environ.get("HERALD_CONFIG_FILE")
    if config_file:
        with Path(config_file).open("rb") as fh:
            file_values = tomllib.load(fh)
        unknown = sorted(set(file_values) - set(Settings.model_fields))
        if unknown:
            raise ValueError(f"{config_file}: unknown setting(s) {', '.join(unknown)}")
    return Settings(**file_values)


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """`HERALD_*` variables that no setting reads (typos, usually), to warn about."""
    known = {f"HERALD_{name.upper()}" for name in Settings.model_fields}
    extra = {"HERALD_CONFIG_FILE", "HERALD_TEST_PG", "HERALD_BENCH_PG"}
    extra |= {"HERALD_URL", "HERALD_TOKEN", "HERALD_PROJECT", "HERALD_RUN_ID"}  # `herald release`
    return sorted(
        key
        for key in environ
        if key.startswith("HERALD_")
        and key not in known | extra
        and key.split("__", 1)[0] not in known
    )


class ExplicitSettings(Settings):
    """Settings from arguments only, ignoring the environment: for tests and embedding."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)
