"""Translations: one set of gettext catalogs (`models/locales/<lang>/LC_MESSAGES/drivershub.po`).

The bot, the API and notifications all render text through `translate`, so a message
reads the same in Discord and on the website. Catalogs are read from the `.po` files with
Babel at first use: there is no compile step to forget.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

DOMAIN = "drivershub"
# Inside the package, so an installed wheel carries the catalogs (package data) and finds
# them the same way a checkout does.
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT_LANGUAGE = "en"
# Languages with a complete catalog; a hub or user may choose any of them.
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch"}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Mark a text for extraction without translating it yet."""
    return message


def language_of(locale: str | None) -> str:
    """Map a Discord/HTTP locale such as `de`, `en-GB` or `de-AT` to a supported language."""
    if not locale:
        return DEFAULT_LANGUAGE
    primary = locale.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


# Catalog folders of external plugins, read after (and never overriding) the project's own.
_extra_dirs: list[Path] = []


def add_catalog_dir(path: Path) -> None:
    """Also read `<path>/<lang>/LC_MESSAGES/drivershub.po` (a plugin's own translations)."""
    if path not in _extra_dirs:
        _extra_dirs.append(path)
        catalog.cache_clear()


def _read_catalog(directory: Path, language: str) -> dict[str, str]:
    path = directory / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        po = read_po(fh, locale=language)
    return {str(m.id): str(m.string) for m in po if m.id and m.string}


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """The translations of one language, msgid to msgstr (empty ones left out)."""
    merged: dict[str, str] = {}
    for directory in [*reversed(_extra_dirs), LOCALES_DIR]:
        merged.update(_read_catalog(directory, language))
    return merged


class Lazy:
    """A text translated only when rendered: a message and its parameters (which may be lazy).

    Errors and notifications carry these, so one error reads in the reader's language
    wherever it is shown (a German ephemeral reply, an English problem+json), and
    `str()` gives the English text for logs.
    """

    __slots__ = ("message", "params")

    def __init__(self, message: str, /, **params: Any) -> None:
        self.message = message
        self.params = params

    def render(self, locale: str | None) -> str:
        return translate(self.message, locale, **self.params)

    def __str__(self) -> str:
        return self.render(DEFAULT_LANGUAGE)

    def __repr__(self) -> str:
        return f"Lazy({self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lazy) and (self.message, self.params) == (
            other.message,
            other.params,
        )

    def __hash__(self) -> int:
        return hash(self.message)


def render(value: Any, locale: str | None) -> Any:
    """`value` with every Lazy inside it (lists and dicts too) rendered for `locale`."""
    if isinstance(value, Lazy):
        return value.render(locale)
    if isinstance(value, list | tuple):
        return [render(item, locale) for item in value]
    if isinstance(value, dict):
        return {key: render(item, locale) for key, item in value.items()}
    return value


def translate(message: str, locale: str | None = None, /, **params: Any) -> str:
    """Translate `message` into the language of `locale` and fill its placeholders."""
    text = catalog(language_of(locale)).get(message, message)
    if not params:
        return text
    return text.format(**{key: render(value, locale) for key, value in params.items()})


def placeholders(message: str) -> set[str]:
    """The `{name}` fields of a message, to check that a translation keeps them."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}
