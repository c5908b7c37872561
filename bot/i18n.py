"""Discord-side translation: command names through discord.py's Translator, replies by locale."""

from __future__ import annotations

from typing import Any

import discord
from babel.numbers import format_decimal
from discord import app_commands

from models.i18n import DEFAULT_LANGUAGE, catalog, language_of, translate


class CatalogTranslator(app_commands.Translator):
    """Localize command names, descriptions and choices from the gettext catalogs."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        language = language_of(locale.value)
        if language == DEFAULT_LANGUAGE:
            return None  # English is the source text; other locales fall back to it
        return catalog(language).get(string.message) or None


def locale_of(interaction: discord.Interaction) -> str:
    """The language to answer in: the user's chosen one, else the Discord client's."""
    chosen = interaction.extras.get("user_locale")
    return chosen or interaction.locale.value


def t(interaction: discord.Interaction, message: str, **params: Any) -> str:
    """Translate `message` for the person behind `interaction`."""
    return translate(message, locale_of(interaction), **params)


def number(interaction: discord.Interaction, value: float) -> str:
    """A number as the reader writes it (1,234 in English, 1.234 in German)."""
    return format_decimal(value, locale=language_of(locale_of(interaction)))
