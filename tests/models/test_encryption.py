"""Secrets at rest: sealing, keys from config or the data directory, rotation."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from core.config import ConfigError, load_settings
from models import encryption, mfa
from models.encryption import Sealer, SealError
from models.users import User


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()  # what `openssl rand -base64 32` prints


@pytest.fixture
def key_dir(tmp_path: Path) -> Iterator[Path]:
    """The process's sealer, using keys generated into a directory, for one test."""
    saved = encryption.sealer()
    directory = tmp_path / "encryption-keys"
    encryption.configure_encryption(encryption.load_sealer(directory))
    yield directory
    encryption.configure_encryption(saved)


def test_a_sealed_value_opens_and_is_never_the_same_twice() -> None:
    sealer = Sealer([os.urandom(32)])
    first, second = sealer.seal("JBSWY3DPEHPK3PXP"), sealer.seal("JBSWY3DPEHPK3PXP")
    assert first != second
    assert "JBSWY3DPEHPK3PXP" not in first
    assert encryption.is_sealed(first)
    assert sealer.unseal(first) == sealer.unseal(second) == "JBSWY3DPEHPK3PXP"


def test_an_altered_value_or_an_unknown_key_is_refused() -> None:
    sealer = Sealer([os.urandom(32)])
    sealed = sealer.seal("JBSWY3DPEHPK3PXP")
    altered = sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")
    with pytest.raises(SealError):
        sealer.unseal(altered)
    with pytest.raises(SealError, match="no encryption key"):
        Sealer([os.urandom(32)]).unseal(sealed)


def test_the_first_configured_key_seals_and_every_one_unseals() -> None:
    old, new = new_key(), new_key()
    before = encryption.load_sealer(Path("unused"), old)
    after = encryption.load_sealer(Path("unused"), f"{new}, {old}")
    sealed = before.seal("secret")
    assert after.unseal(sealed) == "secret"
    assert not after.is_current(sealed)
    assert after.is_current(after.seal("secret"))
    assert not Path("unused").exists()  # configured keys never touch the data directory


def test_a_bad_configured_key_is_named_but_never_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml
    with pytest.raises(ConfigError) as caught:
        load_settings(auth={"encryption_key": "c2hvcnQ="})
    message = str(caught.value)
    assert message.startswith("auth.encryption_key: a key must be 32 bytes, not 5")
    assert "c2hvcnQ=" not in message
    key = new_key()
    configured = load_settings(auth={"encryption_key": key}).auth.encryption_key
    assert configured is not None
    assert configured.get_secret_value() == key


def test_a_key_is_generated_once_into_the_data_directory(tmp_path: Path) -> None:
    directory = tmp_path / "encryption-keys"
    first = encryption.load_sealer(directory)
    again = encryption.load_sealer(directory)
    (path,) = directory.glob("*.key")
    assert path.stat().st_mode & 0o777 == 0o600
    assert first.active_kid == again.active_kid


def test_a_key_added_by_another_process_is_picked_up(tmp_path: Path) -> None:
    directory = tmp_path / "encryption-keys"
    running, rotating = encryption.load_sealer(directory), encryption.load_sealer(directory)
    old = running.seal("secret")
    encryption.add_key(directory)
    rotating.reload(force=True)
    new = rotating.seal("secret")
    assert running.unseal(new) == "secret"  # an unknown key sends it to the directory
    assert running.unseal(old) == "secret"
    assert running.active_kid == rotating.active_kid != old.split(":")[1]


async def test_rotation_reseals_stored_secrets_with_the_new_key(key_dir: Path) -> None:
    plain = pyotp.random_base32()
    user = await User.create(username="alice", mfa_enabled=True, mfa_secret=encryption.seal(plain))
    encryption.add_key(key_dir)
    encryption.sealer().reload(force=True)
    assert await mfa.seal_totp_secrets() == 1
    stored = (await User.get(id=user.id)).mfa_secret or ""
    assert encryption.sealer().is_current(stored)
    assert encryption.unseal(stored) == plain
    assert await mfa.seal_totp_secrets() == 0
