"""Keep the gettext catalogs in step with the code (`drivershub messages`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from models.i18n import DOMAIN, LANGUAGES, LOCALES_DIR

# The directory holding the source packages (the checkout, or site-packages when installed);
# the catalogs themselves live in models/locales.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("core", "bot", "cogs", "web", "models")
# N_ marks domain and reply texts; _T (discord.py's locale_str) marks command texts.
KEYWORDS: dict[str, None] = {"N_": None, "_T": None}
HEADER_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def extract() -> dict[str, list[tuple[str, int]]]:
    """Every marked message in the source, with where it appears."""
    found: dict[str, list[tuple[str, int]]] = {}
    for directory in SOURCE_DIRS:
        for filename, lineno, message, _, _ in extract_from_dir(
            SOURCE_ROOT / directory, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.setdefault(str(message), []).append((f"{directory}/{filename}", lineno))
    return found


def catalog_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def update_catalogs() -> dict[str, list[str]]:
    """Add new messages to every catalog and drop removed ones; return untranslated ids.

    English is the source language: its catalog repeats each message, so it is complete by
    construction. Other languages keep their translations; new messages start empty.
    """
    messages = extract()
    missing: dict[str, list[str]] = {}
    for language in LANGUAGES:
        path = catalog_path(language)
        old: dict[str, str] = {}
        if path.is_file():
            with path.open("rb") as fh:
                old = {str(m.id): str(m.string) for m in read_po(fh) if m.id}
        # A fixed header date keeps `drivershub messages` from changing files needlessly.
        catalog = Catalog(
            locale=language,
            domain=DOMAIN,
            project="Drivers Hub",
            creation_date=HEADER_DATE,
            revision_date=HEADER_DATE,
        )
        for message, locations in sorted(messages.items()):
            text = message if language == "en" else old.get(message, "")
            catalog.add(message, text, locations=locations)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, sort_output=True, width=100, include_lineno=False)
        missing[language] = [m for m in messages if not (language == "en" or old.get(m))]
    return missing
