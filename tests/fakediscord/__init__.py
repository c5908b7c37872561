"""A local Discord emulator (REST v10 + gateway) for testing the bot with the real discord.py."""

from .emulator import EmulatorError, FakeDiscord
from .options import ScenarioError
from .scenario import Interaction
from .state import Channel, Guild, Member, Message, Role, User

__all__ = [
    "Channel",
    "EmulatorError",
    "FakeDiscord",
    "Guild",
    "Interaction",
    "Member",
    "Message",
    "Role",
    "ScenarioError",
    "User",
]
