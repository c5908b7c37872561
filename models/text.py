"""Names and free text from people: what may be stored, normalised once for every input.

Text is stored in NFC, so "Café" typed with a combining accent and with a precomposed "é"
is the same string in lists, searches and uniqueness checks. Control characters are refused
(they render as nothing or break layouts; NUL cannot even be stored in PostgreSQL), and a name
needs something a reader can see.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from models.i18n import N_
from models.validation import Problem

# Letters (category Lo/So) that render as blank space and are used to fake empty names.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Categories that show nothing by themselves: controls, format characters (zero-width space,
# joiners, word joiner, BOM, bidi marks), separators, surrogates, and combining marks, which
# only decorate the character before them.
_INVISIBLE_CATEGORIES = frozenset(["Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Mc", "Me"])
# Whitespace and zero-width characters at either end of a name carry nothing.
_EDGES = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$")
_NEWLINES = re.compile(r"\r\n?")
_TEXT_CONTROLS = frozenset("\n\t")  # the controls multi-line text may hold


def unstorable(value: str) -> str | None:
    """Why `value` cannot be stored as text at all (NUL, lone surrogates), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds an unpaired surrogate)"
    return None


def is_visible(char: str) -> bool:
    """Whether `char` shows something by itself."""
    return char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES


def _check_controls(value: str, *, multiline: bool) -> None:
    problem = unstorable(value)
    if problem is not None:
        raise ValueError(problem)
    allowed = _TEXT_CONTROLS if multiline else frozenset()
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in allowed:
            raise Problem(
                N_("must not contain control characters (found {char})"), char=f"U+{ord(char):04X}"
            )
        if char in "\u2028\u2029" and not multiline:  # line and paragraph separators
            raise Problem(N_("must be a single line"))


def clean_name(value: str) -> str:
    """A one-line name in NFC without blank ends; ValueError if it holds a control character
    or only invisible characters. Blanks alone become "" (the length rule decides)."""
    _check_controls(value, multiline=False)
    value = unicodedata.normalize("NFC", value)
    name = _EDGES.sub("", value)
    if value.strip() and not any(map(is_visible, name)):  # more than blanks, nothing to see
        raise Problem(N_("must contain a visible character"))
    return name


def clean_text(value: str) -> str:
    """Multi-line text in NFC with Unix line ends and no blank ends; ValueError if it holds a
    control character other than a line break or a tab."""
    value = _NEWLINES.sub("\n", value)
    _check_controls(value, multiline=True)
    return unicodedata.normalize("NFC", value).strip()


def _when_str(clean: Any) -> Any:
    # Runs before pydantic's own str check, so other types get its usual error.
    return BeforeValidator(lambda value: clean(value) if isinstance(value, str) else value)


# The length bounds come before the cleaning validator so that pydantic checks them on the
# cleaned value (NFC may lengthen a string) with its usual "at most N characters" message.


def Name(max_length: int, *, min_length: int = 1) -> Any:  # noqa: N802 - a type, like constr
    """A one-line name of `min_length`..`max_length` characters, at least one visible."""
    bounds = Field(min_length=min_length, max_length=max_length)
    return Annotated[str, bounds, _when_str(clean_name)]


def Text(max_length: int) -> Any:  # noqa: N802 - a type, like constr
    """Multi-line free text (line breaks and tabs allowed) of at most `max_length` characters."""
    return Annotated[str, Field(max_length=max_length), _when_str(clean_text)]


def fold(value: str) -> str:
    """A search key: compatibility-normalised and case-folded, so "Ärger", "ÄRGER" and
    "ärger" (and "Straße"/"STRASSE") match on SQLite and PostgreSQL alike (SQLite's LIKE
    and lower() fold ASCII only)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
