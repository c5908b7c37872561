"""Process settings: `config.toml`, overridden by `DRIVERSHUB_<SECTION>__<KEY>` variables."""

from __future__ import annotations

import os
from itertools import takewhile
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from models.encryption import parse_keys

CONFIG_ENV = "DRIVERSHUB_CONFIG"
DEFAULT_CONFIG_FILE = Path("config.toml")


def _http_base(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


# The base URL of a remote API: http(s), without a trailing slash.
HttpBase = Annotated[str, AfterValidator(_http_base)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, data: Any) -> Any:
        # `listen = ""` or `DRIVERSHUB_DISCORD__TOKEN=` turns an optional setting off.
        if not isinstance(data, dict):
            return data
        optional = {name for name, f in cls.model_fields.items() if f.default is None}
        return {k: None if v == "" and k in optional else v for k, v in data.items()}


class OAuthSettings(Section):
    """Discord OAuth2 (login with Discord); the client id is the bot's application id."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    # Must equal a redirect registered in the Developer Portal, exactly.
    redirect_uri: str | None = None
    authorize_url: str = "https://discord.com/oauth2/authorize"


class DiscordSettings(Section):
    token: SecretStr | None = None
    api_base: HttpBase = "https://discord.com/api/v10"
    members_intent: bool = True
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: list[int] | None = None
    sync_commands: bool = True
    oauth: OAuthSettings = OAuthSettings()


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


class AuthSettings(Section):
    issuer: str = "drivershub"
    audience: str = "drivershub-api"
    algorithm: Literal["EdDSA", "RS256"] = "EdDSA"
    access_token_ttl: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl: int = Field(default=30 * 86400, ge=3600)
    # A PEM private key; by default one is generated into <data_dir>/keys on first start.
    private_key: SecretStr | None = None
    # Keys that seal secrets at rest (TOTP secrets), newest first, separated by commas;
    # by default one is generated into <data_dir>/encryption-keys on first start.
    encryption_key: SecretStr | None = None
    # Sensitive actions need a login or MFA code at most this many seconds old.
    reauth_window: int = Field(default=600, ge=60)
    # With MFA on, sessions last logged into longer ago than this need a new login to refresh.
    mfa_refresh_after: int = Field(default=7 * 86400, ge=3600)
    login_link_ttl: int = Field(default=300, ge=30, le=3600)
    email_link_ttl: int = Field(default=86400, ge=300)
    password_reset_ttl: int = Field(default=3600, ge=300)
    account_deletion_grace_days: int = Field(default=14, ge=0)
    # Where the website lives: login flows only redirect there (or to relative paths).
    frontend_origins: list[str] = []

    @field_validator("encryption_key")
    @classmethod
    def _encryption_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keys(value.get_secret_value())  # the message never repeats the value
        return value


class SteamSettings(Section):
    openid_endpoint: str = "https://steamcommunity.com/openid/login"
    # A Steam Web API key: with one, new Steam users get their persona name as username.
    api_key: SecretStr | None = None
    api_base: HttpBase = "https://api.steampowered.com"


class SmtpSettings(Section):
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "Drivers Hub <noreply@localhost>"
    starttls: bool = True
    use_tls: bool = False


class CaptchaSettings(Section):
    provider: Literal["none", "hcaptcha", "turnstile"] = "none"
    secret: SecretStr | None = None
    # Defaults to the provider's siteverify endpoint; tests point it at a local fake.
    verify_url: str | None = None


class RateLimitSettings(Section):
    enabled: bool = True
    # Requests per window for each identity (user id when authenticated, else client IP).
    global_limit: int = Field(default=600, ge=1)
    global_window: int = Field(default=60, ge=1)
    # Sensitive routes (login, register, reset, MFA, token creation) have their own budget.
    auth_limit: int = Field(default=10, ge=1)
    auth_window: int = Field(default=60, ge=1)
    # Failed logins per account before it is throttled, regardless of IP.
    account_failures: int = Field(default=5, ge=1)
    account_window: int = Field(default=900, ge=1)
    # Tracker webhooks: per hub, not per sender address (one tracker sends for every hub).
    tracker_limit: int = Field(default=6000, ge=1)
    tracker_window: int = Field(default=60, ge=1)


class TrackerSettings(Section):
    # Largest webhook body, in bytes (a job with a long event list is tens of KB).
    max_body_size: int = Field(default=512 * 1024, ge=1024)


class DownloadSettings(Section):
    # Largest uploaded file, in bytes (larger uploads get 413 and nothing is kept).
    max_file_size: int = Field(default=200 * 1024 * 1024, ge=1024)
    # Seconds a member's personal download link works.
    link_ttl: int = Field(default=300, ge=30, le=86400)


class NotificationSettings(Section):
    # Notifications to one person within this many seconds go out as one Discord DM.
    dm_window_seconds: float = Field(default=30, ge=0, le=3600)
    # In-app notifications older than this are deleted, read or not.
    retention_days: int = Field(default=90, ge=1, le=3650)


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
    auth: AuthSettings = AuthSettings()
    steam: SteamSettings = SteamSettings()
    smtp: SmtpSettings = SmtpSettings()
    captcha: CaptchaSettings = CaptchaSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    notifications: NotificationSettings = NotificationSettings()
    downloads: DownloadSettings = DownloadSettings()
    tracker: TrackerSettings = TrackerSettings()
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


SECTIONS = [name for name in Settings.model_fields if name != "data_dir"]


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


def _config_file() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, raising `ConfigError` with one line per bad key."""
    path = _config_file()
    if CONFIG_ENV in os.environ and not path.is_file():
        raise ConfigError(f"{CONFIG_ENV}: no such file {path}")
    _check_environment_names()
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    except SettingsError as exc:  # an environment variable that is not the JSON a list needs
        raise ConfigError(f"environment: {exc} (lists and tables are JSON there)") from None
    except ValueError as exc:  # a broken TOML file
        raise ConfigError(f"{path}: {exc}") from None
    # Sentry's own variable is the one operators know.
    if settings.sentry.dsn is None and os.environ.get("SENTRY_DSN"):
        sentry = settings.sentry.model_copy(update={"dsn": SecretStr(os.environ["SENTRY_DSN"])})
        settings = settings.model_copy(update={"sentry": sentry})
    return settings


# DRIVERSHUB_* variables that are not settings: the config file's path, and the test suite's.
NOT_SETTINGS = (CONFIG_ENV, "DRIVERSHUB_TEST_", "DRIVERSHUB_CI_")


def _check_environment_names() -> None:
    """A misspelt variable (DRIVERSHUB_DATABSE__URL) would be silently ignored: refuse it."""
    for name in os.environ:
        if not name.startswith("DRIVERSHUB_") or name.startswith(NOT_SETTINGS):
            continue
        first = name.removeprefix("DRIVERSHUB_").split("__", 1)[0].lower()
        if first not in Settings.model_fields:
            raise ConfigError(f"{name}: unknown setting (sections: {', '.join(SECTIONS)})")


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        key = ".".join(str(part) for part in loc)
        # The variable sets the whole setting: a list's item number is not part of its name.
        names = takewhile(lambda part: isinstance(part, str), loc)
        env = "DRIVERSHUB_" + "__".join(names).upper()
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            unknown_table = len(loc) == 1 and isinstance(error.get("input"), dict)
            message = "unknown section" if unknown_table else "unknown key"
        lines.append(f"{key}: {message} (set in {path} or {env})")
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
