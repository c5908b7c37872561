"""Process settings: `config.toml`, overridden by `DRIVERSHUB_<SECTION>__<KEY>` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DRIVERSHUB_CONFIG"
DEFAULT_CONFIG_FILE = Path("config.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordSettings(Section):
    token: SecretStr | None = None
    api_base: str = "https://discord.com/api/v10"
    members_intent: bool = True
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[int] | None = None
    sync_commands: bool = True

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class DatabaseSettings(Section):
    url: str = "sqlite://data/drivershub.sqlite3"
    # None: migrate at start-up on SQLite only (a shared server is migrated by an operator).
    auto_migrate: bool | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite://")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate


class CacheSettings(Section):
    url: str = "memory://"
    namespace: str = "drivershub"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory:// or redis://host:port/db")
        return value


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    cors_origins: list[str] = []
    max_body_size: int = Field(default=1024 * 1024, ge=1024)
    trusted_proxies: list[str] = []
    shutdown_timeout: float = Field(default=5.0, ge=0, le=9)
    access_log: bool = False


class MetricsSettings(Section):
    enabled: bool = True
    # A bearer token for /metrics on the public port; without it /metrics is only
    # served on `listen` (an internal address) or to loopback clients.
    token: SecretStr | None = None
    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, sep, port = value.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("must be host:port")
        return value


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["plain", "json"] = "plain"


class SentrySettings(Section):
    dsn: SecretStr | None = None
    environment: str = "production"
    traces_sample_rate: float = Field(default=0.0, ge=0, le=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DRIVERSHUB_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Path("data")
    discord: DiscordSettings = DiscordSettings()
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    web: WebSettings = WebSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    sentry: SentrySettings = SentrySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


def _config_file() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, raising `ConfigError` with one line per bad key."""
    path = _config_file()
    if CONFIG_ENV in os.environ and not path.is_file():
        raise ConfigError(f"{CONFIG_ENV}: no such file {path}")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except ValueError as exc:  # a broken TOML file
        raise ConfigError(f"{path}: {exc}") from None
    # Sentry's own variable is the one operators know.
    if settings.sentry.dsn is None and os.environ.get("SENTRY_DSN"):
        sentry = settings.sentry.model_copy(update={"dsn": SecretStr(os.environ["SENTRY_DSN"])})
        settings = settings.model_copy(update={"sentry": sentry})
    return settings


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env = "DRIVERSHUB_" + "__".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message} (set in config.toml or {env})")
    return "; ".join(lines)


def mask_url(url: str) -> str:
    """Hide the password of a URL such as postgres://user:secret@host/db."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def effective_config(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, secrets masked, for `drivershub check-config`."""
    data = settings.model_dump(mode="json")
    for section in ("database", "cache"):
        data[section]["url"] = mask_url(data[section]["url"])
    return data
