"""Fixtures for the emulator's own tests."""

from .fixtures import fake_discord

__all__ = ["fake_discord"]
