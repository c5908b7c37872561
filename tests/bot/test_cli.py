"""The `drivershub` command as an operator uses it: real subprocesses, a fresh SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tortoise import Tortoise

from tests.bot.conftest import CliRunner

# Runs its own SQLite or no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

SECRET_TOKEN = "MTA.bot-token.never-printed"


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert 'File "' not in stderr


def test_check_config_prints_the_settings_with_secrets_masked(cli: CliRunner) -> None:
    result = cli(
        "check-config",
        DRIVERSHUB_DISCORD__TOKEN=SECRET_TOKEN,
        DRIVERSHUB_METRICS__TOKEN="metrics-secret",
        DRIVERSHUB_CACHE__URL="redis://:cache-secret@127.0.0.1:6379/0",
        DRIVERSHUB_WEB__PORT="8123",
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["web"]["port"] == 8123
    assert config["discord"]["token"] == "**********"
    assert config["cache"]["url"] == "redis://:***@127.0.0.1:6379/0"
    for secret in (SECRET_TOKEN, "metrics-secret", "cache-secret"):
        assert secret not in result.stdout + result.stderr


def test_a_bad_setting_exits_2_with_one_line_naming_the_key(cli: CliRunner) -> None:
    result = cli("check-config", DRIVERSHUB_WEB__PORT="eighty")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("drivershub: configuration error: web.port: ")
    assert "DRIVERSHUB_WEB__PORT" in lines[0]


def test_a_missing_config_file_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "missing.toml"), "check-config")
    assert result.returncode == 2
    assert "missing.toml" in result.stderr
    _no_traceback(result.stderr)


def test_migrate_creates_every_table_and_can_run_again(cli: CliRunner, tmp_path: Path) -> None:
    first = cli("migrate")
    assert first.returncode == 0, first.stderr
    assert "migrations applied" in first.stdout
    expected = _model_tables()
    assert expected <= _tables(tmp_path / "hub.sqlite3")
    again = cli("migrate")
    assert again.returncode == 0, again.stderr
    assert expected <= _tables(tmp_path / "hub.sqlite3")


def _model_tables() -> set[str]:
    """The table of every model (the session fixture has initialised Tortoise)."""
    tables = {
        model._meta.db_table for app in (Tortoise.apps or {}).values() for model in app.values()
    }
    assert "hubs" in tables
    return tables


def test_create_hub_then_update_it_as_the_operator(cli: CliRunner) -> None:
    created = cli("create-hub", "Night Owls")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created hub night-owls"
    updated = cli("update-hub", "night-owls", '{"language": "de", "distance_unit": "mi"}')
    assert updated.returncode == 0, updated.stderr
    hub = json.loads(updated.stdout)
    assert (hub["slug"], hub["name"]) == ("night-owls", "Night Owls")
    assert (hub["language"], hub["distance_unit"]) == ("de", "mi")


def test_create_hub_with_a_taken_slug_refuses_and_suggests_slug(cli: CliRunner) -> None:
    assert cli("create-hub", "Night Owls").returncode == 0
    again = cli("create-hub", "Night Owls")
    assert again.returncode == 1
    assert again.stdout == ""
    errors = [line for line in again.stderr.splitlines() if line.startswith("drivershub:")]
    assert errors == ["drivershub: The slug night-owls is taken. Choose another one with --slug."]
    _no_traceback(again.stderr)
    chosen = cli("create-hub", "Night Owls", "--slug", "night-owls-eu")
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.strip() == "created hub night-owls-eu"


def test_update_hub_refuses_bad_json_and_bad_fields_clearly(cli: CliRunner) -> None:
    malformed = cli("update-hub", "night-owls", '{"language": ')
    unknown_field = cli("update-hub", "night-owls", '{"language": "xx", "colour": 1}')
    for result in (malformed, unknown_field):
        assert result.returncode == 1
        assert result.stdout == ""
        _no_traceback(result.stderr)
    assert "drivershub: " in malformed.stderr
    assert "JSON" in malformed.stderr
    assert "language" in unknown_field.stderr
    assert "colour" in unknown_field.stderr


def test_update_hub_of_an_unknown_hub_is_a_clear_error(cli: CliRunner) -> None:
    result = cli("update-hub", "ghost-riders", '{"language": "de"}')
    assert result.returncode == 1
    assert "drivershub: There is no hub called ghost-riders." in result.stderr
    _no_traceback(result.stderr)


def test_promote_of_an_unknown_user_is_a_clear_error(cli: CliRunner) -> None:
    result = cli("promote", "nobody@example.com")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "drivershub: No single user matches nobody@example.com." in result.stderr
    _no_traceback(result.stderr)
