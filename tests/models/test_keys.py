"""Signing keys: generated once, rotated, published while their tokens live."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from models import keys
from models.keys import load_keyring, rotate


def test_first_start_generates_one_private_key_file(tmp_path: Path) -> None:
    ring = load_keyring(tmp_path / "keys", "EdDSA", 900)
    again = load_keyring(tmp_path / "keys", "EdDSA", 900)
    files = list((tmp_path / "keys").glob("*.pem"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o077 == 0  # readable by the owner only
    assert ring.active.kid == again.active.kid


def test_rotation_keeps_the_old_key_published_until_its_tokens_expire(tmp_path: Path) -> None:
    old = load_keyring(tmp_path, "EdDSA", keep_retired=900).active
    time.sleep(0.002)
    rotate(tmp_path, "EdDSA")
    ring = load_keyring(tmp_path, "EdDSA", keep_retired=900)
    assert ring.active.kid != old.kid
    assert {k["kid"] for k in ring.jwks()["keys"]} == {ring.active.kid, old.kid}
    expired = load_keyring(tmp_path, "EdDSA", keep_retired=0)
    assert [k["kid"] for k in expired.jwks()["keys"]] == [expired.active.kid]


def test_a_process_finds_a_key_another_process_rotated_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "RELOAD_INTERVAL", 0.0)
    running = load_keyring(tmp_path, "EdDSA", 900)
    time.sleep(0.002)
    rotate(tmp_path, "EdDSA")
    newer = load_keyring(tmp_path, "EdDSA", 900).active
    assert running.get(newer.kid) is not None


def test_rsa_keys_are_supported(tmp_path: Path) -> None:
    ring = load_keyring(tmp_path, "RS256", 900)
    assert ring.active.algorithm == "RS256"
    assert ring.jwks()["keys"][0]["kty"] == "RSA"
