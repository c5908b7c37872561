"""Administration from the command line: `drivershub users`, `deactivate`, `reactivate`,
`reset-mfa`, `unlink`, `delete-user`, `hubs` and `rotate-encryption-key`, as an operator runs them
against a fresh SQLite file."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from models.encryption import key_id, load_sealer
from tests.bot.conftest import CliRunner

# Runs its own SQLite or no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

DISCORD_ID = 111_222_333_444_555_666


@pytest.fixture
def hub_db(cli: CliRunner, tmp_path: Path) -> Path:
    """The command's migrated database, with Alice (MFA on) and Bob in it."""
    migrated = cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    path = tmp_path / "hub.sqlite3"
    _add_user(path, "alice", "alice@example.com", discord_id=DISCORD_ID, mfa_enabled=1)
    _add_user(path, "Bobby", "bob@example.com")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (1, 'x', 0)")
    return path


def _add_user(path: Path, username: str, email: str, **columns: object) -> None:
    values: dict[str, object] = {
        "username": username,
        "email": email,
        "password_hash": "not-a-real-hash",
        "first_name": "",
        "last_name": "",
        "avatar": "",
        "privacy": "{}",
        "is_superuser": 0,
        "is_active": 1,
        "is_verified": 1,
        "mfa_enabled": 0,
        "mfa_last_step": 0,
        "created_at": "2026-01-01 00:00:00+00:00",
        "updated_at": "2026-01-01 00:00:00+00:00",
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    with sqlite3.connect(path) as db:
        db.execute(f"INSERT INTO users ({names}) VALUES ({marks})", list(values.values()))


def _row(path: Path, sql: str) -> tuple:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchone()


def _ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def _refused(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The command's error lines, after checking it failed cleanly."""
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("drivershub:")]


def test_users_lists_everyone_or_what_search_finds(cli: CliRunner, hub_db: Path) -> None:
    everyone = _ok(cli("users"))
    assert everyone[0].split("\t") == ["id", "username", "email", "discord", "steam", "flags"]
    assert everyone[1].split("\t") == [
        "1",
        "alice",
        "alice@example.com",
        str(DISCORD_ID),
        "-",
        "mfa",
    ]
    assert everyone[2].split("\t")[:3] == ["2", "Bobby", "bob@example.com"]
    assert [line.split("\t")[1] for line in _ok(cli("users", "--search", "BOB"))[1:]] == ["Bobby"]
    by_discord = _ok(cli("users", "--search", str(DISCORD_ID)))
    assert [line.split("\t")[1] for line in by_discord[1:]] == ["alice"]
    assert _ok(cli("users", "--search", "nobody")) == ["no users found"]


def test_deactivate_and_reactivate_are_audited_as_the_system(cli: CliRunner, hub_db: Path) -> None:
    assert _ok(cli("deactivate", "alice@example.com")) == [
        "alice is deactivated: logins are refused and their sessions have ended"
    ]
    assert _row(hub_db, "SELECT is_active FROM users WHERE id = 1") == (0,)
    assert _refused(cli("deactivate", "alice")) == [
        "drivershub: This account is already deactivated."
    ]
    assert "inactive" in _ok(cli("users", "--search", "alice"))[1].split("\t")[-1]
    assert _ok(cli("reactivate", str(DISCORD_ID))) == ["alice can log in again"]
    assert _row(hub_db, "SELECT is_active FROM users WHERE id = 1") == (1,)
    with sqlite3.connect(hub_db) as db:
        audit = db.execute("SELECT actor_id, action, target FROM audit_log ORDER BY id").fetchall()
    assert audit == [(None, "user.deactivate", "1"), (None, "user.reactivate", "1")]


def test_reset_mfa_turns_it_off_once(cli: CliRunner, hub_db: Path) -> None:
    assert _ok(cli("reset-mfa", "alice")) == [
        "two-factor authentication is off for alice; they may set it up again"
    ]
    assert _row(hub_db, "SELECT mfa_enabled FROM users WHERE id = 1") == (0,)
    assert _row(hub_db, "SELECT COUNT(*) FROM recovery_codes") == (0,)
    assert _refused(cli("reset-mfa", "alice")) == [
        "drivershub: This user has not turned on two-factor authentication."
    ]


def test_unlink_disconnects_a_wrong_account_but_never_the_last_way_in(
    cli: CliRunner, hub_db: Path
) -> None:
    # Alice has a password and Discord: Discord can go, the password then cannot be the last.
    assert _ok(cli("unlink", "alice", "discord")) == [
        "alice's discord account is disconnected; its sessions have ended"
    ]
    assert _row(hub_db, "SELECT discord_id FROM users WHERE id = 1") == (None,)
    assert _refused(cli("unlink", "alice", "discord"))[0].startswith("drivershub: ")


def test_delete_user_needs_yes_then_erases(cli: CliRunner, hub_db: Path) -> None:
    unconfirmed = _refused(cli("delete-user", "Bobby"))
    assert len(unconfirmed) == 1
    assert "--yes" in unconfirmed[0]
    assert _row(hub_db, "SELECT email FROM users WHERE id = 2") == ("bob@example.com",)
    assert _ok(cli("delete-user", "Bobby", "--yes")) == ["Bobby (id 2) is erased"]
    erased = _row(hub_db, "SELECT username, email, is_active FROM users WHERE id = 2")
    assert erased == ("Deleted user", None, 0)
    assert _refused(cli("delete-user", "Bobby", "--yes")) == [
        "drivershub: No single user matches Bobby."
    ]


def test_hubs_lists_every_hub_with_its_state(cli: CliRunner, hub_db: Path) -> None:
    assert _ok(cli("hubs")) == ["no hubs yet"]
    assert cli("create-hub", "Night Owls").returncode == 0
    with sqlite3.connect(hub_db) as db:
        db.execute("UPDATE hubs SET public = 0, guild_id = 42, active = 0")
    lines = _ok(cli("hubs"))
    assert lines[0].split("\t") == ["id", "slug", "name", "state", "guild", "members", "plugins"]
    row = lines[1].split("\t")
    assert row[:6] == ["1", "night-owls", "Night Owls", "inactive,private", "42", "0"]


# Secrets at rest: sealed after migrating, re-sealed by a rotation

PLAIN_SECRET = "JBSWY3DPEHPK3PXP"


def _secret(path: Path) -> str:
    return _row(path, "SELECT mfa_secret FROM users WHERE id = 1")[0]


def test_migrate_seals_a_plain_secret_and_rotation_reseals_it(cli: CliRunner, hub_db: Path) -> None:
    with sqlite3.connect(hub_db) as db:  # stored in the clear, as older versions did
        db.execute("UPDATE users SET mfa_secret = ? WHERE id = 1", (PLAIN_SECRET,))
    _ok(cli("migrate"))
    sealed = _secret(hub_db)
    assert sealed.startswith("enc1:")
    assert PLAIN_SECRET not in sealed
    lines = _ok(cli("rotate-encryption-key"))
    resealed = _secret(hub_db)
    kid = resealed.split(":")[1]
    assert kid != sealed.split(":")[1]
    assert lines[-1] == f"every stored secret is sealed with encryption key {kid}"
    keys = hub_db.parent / "data" / "encryption-keys"
    assert len(list(keys.glob("*.key"))) == 2  # the old key stays: it may still be needed
    assert load_sealer(keys).unseal(resealed) == PLAIN_SECRET


def test_a_configured_key_seals_instead_of_the_generated_one(cli: CliRunner, hub_db: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    with sqlite3.connect(hub_db) as db:
        db.execute("UPDATE users SET mfa_secret = ? WHERE id = 1", (PLAIN_SECRET,))
    _ok(cli("migrate", DRIVERSHUB_AUTH__ENCRYPTION_KEY=key))
    sealed = _secret(hub_db)
    assert sealed.split(":")[1] == key_id(base64.b64decode(key))
    assert load_sealer(Path("unused"), key).unseal(sealed) == PLAIN_SECRET


def test_verify_email_lets_a_hub_without_a_mail_server_log_in(cli: CliRunner, hub_db: Path) -> None:
    _add_user(hub_db, "carol", "carol@example.com", is_verified=0)
    assert _ok(cli("verify-email", "carol@example.com")) == [
        "carol's e-mail address carol@example.com is verified"
    ]
    assert _row(hub_db, "SELECT is_verified FROM users WHERE username = 'carol'") == (1,)
    assert _refused(cli("verify-email", "nobody@example.com"))
