"""Process settings: defaults, config.toml, environment overrides, clear errors, masking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import ConfigError, effective_config, load_settings, mask_url

# Runs its own SQLite or no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No settings from the developer's shell or the repository's config.toml."""
    for name in list(os.environ):
        if name.startswith("DRIVERSHUB_") or name == "SENTRY_DSN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(tmp_path: Path, text: str, name: str = "hub.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file_and_no_server() -> None:
    settings = load_settings()
    assert settings.database.url == "sqlite://data/drivershub.sqlite3"
    assert settings.database.should_auto_migrate
    assert settings.cache.url == "memory://"
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)
    assert settings.discord.token is None
    assert settings.metrics.token is None
    assert settings.metrics.listen is None
    assert settings.sentry.dsn is None
    assert settings.data_dir == Path("data")


def test_config_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    _write(tmp_path, '[web]\nport = 9000\n[cache]\nurl = "redis://cache:6379/1"\n', "config.toml")
    settings = load_settings()
    assert settings.web.port == 9000
    assert settings.cache.url == "redis://cache:6379/1"


def test_the_file_named_by_drivershub_config_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "[web]\nport = 9000\n", "config.toml")  # not this one
    path = _write(
        tmp_path,
        'data_dir = "/var/lib/drivershub"\n[web]\nport = 9100\ncors_origins = ["https://a.example"]\n'
        '[database]\nurl = "postgres://hub@db/hub"\n',
    )
    monkeypatch.setenv("DRIVERSHUB_CONFIG", str(path))
    settings = load_settings()
    assert settings.web.port == 9100
    assert settings.web.cors_origins == ["https://a.example"]
    assert settings.data_dir == Path("/var/lib/drivershub")
    assert not settings.database.should_auto_migrate  # a shared server is migrated by hand


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, '[web]\nport = 9100\nhost = "10.0.0.5"\n')
    monkeypatch.setenv("DRIVERSHUB_CONFIG", str(path))
    monkeypatch.setenv("DRIVERSHUB_WEB__PORT", "9200")
    monkeypatch.setenv("DRIVERSHUB_DISCORD__TOKEN", "env-token")
    monkeypatch.setenv("DRIVERSHUB_WEB__CORS_ORIGINS", '["https://hub.example.com"]')
    settings = load_settings()
    assert settings.web.port == 9200
    assert settings.web.host == "10.0.0.5"  # the rest of the section still comes from the file
    assert settings.web.cors_origins == ["https://hub.example.com"]
    assert settings.discord.token is not None
    assert settings.discord.token.get_secret_value() == "env-token"


def test_an_empty_variable_turns_an_optional_setting_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, '[metrics]\nlisten = "127.0.0.1:9108"\n[discord]\ntoken = "x"\n')
    monkeypatch.setenv("DRIVERSHUB_CONFIG", str(path))
    monkeypatch.setenv("DRIVERSHUB_METRICS__LISTEN", "")
    monkeypatch.setenv("DRIVERSHUB_DISCORD__TOKEN", "")
    settings = load_settings()
    assert settings.metrics.listen is None
    assert settings.discord.token is None


def test_sentry_dsn_comes_from_its_usual_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN", "http://public@127.0.0.1:9/1")
    dsn = load_settings().sentry.dsn
    assert dsn is not None
    assert dsn.get_secret_value() == "http://public@127.0.0.1:9/1"


def _error(**env: str) -> str:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        with pytest.raises(ConfigError) as caught:
            load_settings()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_bad_value_names_the_key_and_its_variable() -> None:
    message = _error(DRIVERSHUB_WEB__PORT="eighty")
    assert message.startswith("web.port: ")
    assert "DRIVERSHUB_WEB__PORT" in message
    assert "integer" in message


def test_out_of_range_and_bad_urls_are_refused() -> None:
    assert "web.port" in _error(DRIVERSHUB_WEB__PORT="70000")
    message = _error(DRIVERSHUB_DATABASE__URL="mysql://db/hub")
    assert message.startswith("database.url: must start with sqlite:// or postgres://")
    assert "metrics.listen: must be host:port" in _error(DRIVERSHUB_METRICS__LISTEN="9108")


def test_a_bad_list_item_names_the_variable_that_sets_the_list() -> None:
    message = _error(DRIVERSHUB_WEB__CORS_ORIGINS="[1]")
    assert message.startswith("web.cors_origins.0: ")
    assert "DRIVERSHUB_WEB__CORS_ORIGINS)" in message


def test_a_variable_that_is_not_json_for_a_list_is_a_config_error() -> None:
    message = _error(DRIVERSHUB_WEB__CORS_ORIGINS="https://a.example")
    assert message.startswith("environment: ")
    assert '"web"' in message


def test_an_unknown_key_in_the_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "[web]\nprot = 8081\n")
    message = _error(DRIVERSHUB_CONFIG=str(path))
    assert message == f"web.prot: unknown key (set in {path} or DRIVERSHUB_WEB__PROT)"


def test_an_unknown_section_in_the_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "[wbe]\nport = 8081\n")
    message = _error(DRIVERSHUB_CONFIG=str(path))
    assert message.startswith("wbe: unknown section")


def test_an_unknown_key_in_a_known_section_of_the_environment_is_refused() -> None:
    message = _error(DRIVERSHUB_DATABASE__URI="sqlite://x.sqlite3")
    assert message.startswith("database.uri: unknown key")


def test_several_mistakes_are_reported_together_on_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[web]\nport = "x"\nprot = 1\n[logging]\nlevel = "LOUD"\n')
    message = _error(DRIVERSHUB_CONFIG=str(path))
    assert all(key in message for key in ("web.port", "web.prot", "logging.level"))


def test_broken_toml_names_the_file_and_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "[web]\nport = \n")
    message = _error(DRIVERSHUB_CONFIG=str(path))
    assert message.startswith(f"{path}: ")
    assert "line 2" in message


def test_a_missing_config_file_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    message = _error(DRIVERSHUB_CONFIG=str(tmp_path / "nope.toml"))
    assert message == f"DRIVERSHUB_CONFIG: no such file {tmp_path / 'nope.toml'}"


def test_effective_config_masks_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "DRIVERSHUB_DISCORD__TOKEN": "bot-token-123",
        "DRIVERSHUB_METRICS__TOKEN": "metrics-token-456",
        "DRIVERSHUB_DATABASE__URL": "postgres://hub:db-pass-789@db.internal:5432/hub",
        "DRIVERSHUB_CACHE__URL": "redis://:cache-pass-000@cache:6379/0",
        "SENTRY_DSN": "https://sentry-key-111@sentry.example/1",
        "DRIVERSHUB_STEAM__API_KEY": "steam-key-222",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    config = effective_config(load_settings())
    text = repr(config)
    for value in ("bot-token-123", "metrics-token-456", "db-pass-789", "cache-pass-000"):
        assert value not in text
    assert "sentry-key-111" not in text
    assert "steam-key-222" not in text
    assert config["steam"]["api_key"] == "**********"
    assert config["database"]["url"] == "postgres://hub:***@db.internal:5432/hub"
    assert config["cache"]["url"] == "redis://:***@cache:6379/0"
    assert config["discord"]["token"] == "**********"
    assert config["web"]["port"] == 8080  # the rest is shown as is


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgres://user:secret@host/db", "postgres://user:***@host/db"),
        ("postgres://user:p@ss@host:5432/db", "postgres://user:***@host:5432/db"),
        ("postgres://user@host/db", "postgres://user@host/db"),
        ("sqlite://data/drivershub.sqlite3", "sqlite://data/drivershub.sqlite3"),
    ],
)
def test_mask_url_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_misspelt_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIVERSHUB_DATABSE__URL", "postgres://x")
    with pytest.raises(ConfigError, match="DRIVERSHUB_DATABSE__URL: unknown setting"):
        load_settings()
