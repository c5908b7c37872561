"""`drivershub rebuild-points [SLUG]`: totals, period sums and ranks recomputed from the ledger,
as an operator runs it against a fresh SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.bot.conftest import CliRunner

# Runs its own SQLite file: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

WHEN = "2026-03-14 12:00:00+00:00"


def _ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def _insert(db: sqlite3.Connection, table: str, **values: object) -> int:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cursor = db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(values.values()))
    return int(cursor.lastrowid or 0)


def _driver(db: sqlite3.Connection, hub_id: int, name: str, points: int = 0) -> int:
    user = _insert(
        db, "users", username=name, first_name="", last_name="", avatar="", privacy="{}",
        is_superuser=0, is_active=1, is_verified=1, mfa_enabled=0, mfa_last_step=0,
        created_at=WHEN, updated_at=WHEN,
    )  # fmt: skip
    return _insert(
        db, "members", hub_id=hub_id, user_id=user, state="member", number=user, in_guild=1,
        search_name=name, first_seen_at=WHEN, points=points, discord_role_ids="[]",
        discord_admin=0,
    )  # fmt: skip


def _entry(db: sqlite3.Connection, hub_id: int, member_id: int, kind: str, amount: int) -> None:
    _insert(
        db, "point_entries", hub_id=hub_id, member_id=member_id, kind=kind, amount=amount,
        reason="", source="", counts_at=WHEN, created_at=WHEN,
    )  # fmt: skip


@pytest.fixture
def ledger_db(cli: CliRunner, tmp_path: Path) -> Path:
    """Two hubs whose ledgers say one thing and whose kept totals (lost) say another."""
    for name in ("Night Owls", "Road Kings"):
        assert cli("create-hub", name).returncode == 0
    path = tmp_path / "hub.sqlite3"
    with sqlite3.connect(path) as db:
        _insert(db, "ranks", hub_id=1, name="Pro", threshold=100, kinds="[]", color=0,
                daily_bonus=0, distance_bonus=0, created_at=WHEN)  # fmt: skip
        alice = _driver(db, 1, "alice", points=7)  # the kept total is wrong
        bob = _driver(db, 1, "bob")
        carol = _driver(db, 2, "carol", points=999)
        _entry(db, 1, alice, "distance", 120)
        _entry(db, 1, alice, "correction", -20)
        _entry(db, 1, bob, "event", 30)
        _entry(db, 2, carol, "manual", 5)
    return path


def _figures(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT m.id, m.points, r.name FROM members m LEFT JOIN ranks r ON r.id = m.rank_id"
            " ORDER BY m.id"
        ).fetchall()


def test_rebuild_points_recomputes_every_hub_from_its_ledger(
    cli: CliRunner, ledger_db: Path
) -> None:
    assert _ok(cli("rebuild-points")) == [
        "night-owls: 3 ledger rows read",
        "road-kings: 1 ledger rows read",
    ]
    assert _figures(ledger_db) == [(1, 100, "Pro"), (2, 30, None), (3, 5, None)]
    with sqlite3.connect(ledger_db) as db:
        totals = db.execute("SELECT member_id, kind, total FROM point_totals ORDER BY 1, 2")
        assert totals.fetchall() == [
            (1, "correction", -20),
            (1, "distance", 120),
            (2, "event", 30),
            (3, "manual", 5),
        ]
        month = db.execute(
            "SELECT member_id, amount FROM point_periods"
            " WHERE period = 'month' AND start = '2026-03-01' AND kind = 'all' ORDER BY 1"
        )
        assert month.fetchall() == [(1, 100), (2, 30), (3, 5)]
    # Running it again changes nothing.
    assert len(_ok(cli("rebuild-points"))) == 2
    assert _figures(ledger_db) == [(1, 100, "Pro"), (2, 30, None), (3, 5, None)]


def test_rebuild_points_of_one_hub_leaves_the_others_alone(cli: CliRunner, ledger_db: Path) -> None:
    assert _ok(cli("rebuild-points", "road-kings")) == ["road-kings: 1 ledger rows read"]
    assert _figures(ledger_db) == [(1, 7, None), (2, 0, None), (3, 5, None)]
    unknown = cli("rebuild-points", "ghost-riders")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    refusal = [line for line in unknown.stderr.splitlines() if line.startswith("drivershub:")]
    assert refusal == ["drivershub: There is no hub called ghost-riders."]


def test_rebuild_points_without_hubs_says_so(cli: CliRunner) -> None:
    assert _ok(cli("rebuild-points")) == ["no hubs yet"]
