"""The catalogs: complete for every language, placeholders kept, command names valid."""

from __future__ import annotations

import re

import pytest

from bot.messages import extract
from models.i18n import LANGUAGES, catalog, language_of, placeholders, translate

# Runs its own SQLite or no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

MESSAGES = extract()
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_message_is_translated(language: str) -> None:
    missing = sorted(set(MESSAGES) - set(catalog(language)))
    assert not missing, f"{language} lacks {missing} (run `drivershub messages`)"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = {
        message: text
        for message, text in catalog(language).items()
        if placeholders(message) != placeholders(text)
    }
    assert not wrong


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_translated_command_names_stay_valid(language: str) -> None:
    names = [m for m in MESSAGES if COMMAND_NAME.fullmatch(m) and m.islower()]
    bad = [catalog(language)[n] for n in names if not COMMAND_NAME.fullmatch(catalog(language)[n])]
    assert names
    assert not bad


def test_source_finds_the_marked_messages() -> None:
    assert "You are not allowed to do that." in MESSAGES
    assert "settings" in MESSAGES  # command names are marked too


def test_locales_map_to_supported_languages() -> None:
    assert [language_of(x) for x in ("de", "de-AT", "en-GB", "pt-BR", None)] == [
        "de",
        "de",
        "en",
        "en",
        "en",
    ]
    assert translate("Members", "de") == "Mitglieder"
    assert translate("Hub: {slug}", "de-DE", slug="x") == "Hub: x"
