"""Reading JSON from strangers: bounded nesting and numbers, and only text we can store.

Python's parser would recurse a thousand levels deep before failing and turn a 4,000-digit
number into an int (each slow, and each a 500 if it escapes); no input needs either. So the
nesting is measured before parsing, and numbers are checked as the parser meets them.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from models.errors import BadRequest
from models.i18n import N_
from models.text import unstorable
from models.validation import field_error

MAX_DEPTH = 32
MAX_INT_DIGITS = 30  # the largest id (19 digits) and any sane amount fit with room to spare
_CHUNK = 4096

# A string, escapes included; an unterminated one runs to the end (the parser reports it),
# so no position is tried twice and the scan stays linear.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class _NumberTooLong(Exception):
    pass


class _NotANumber(Exception):
    pass


def load(raw: bytes | str) -> Any:
    """The JSON value in `raw`, or `BadRequest` (400) if it cannot be read within the bounds,
    or `Invalid` (422) naming the field whose text cannot be stored."""
    text = _decode(raw)
    if too_deep(text, MAX_DEPTH):
        raise BadRequest(
            N_("The body nests arrays and objects more than {limit} levels deep."),
            code="json_too_deep",
            limit=MAX_DEPTH,
        )
    data = _parse(text)
    if "\\u" in text:  # NUL and surrogates can only arrive as \u escapes
        check_strings(data)
    return data


def _malformed(error: str, line: int = 1, column: int = 1) -> BadRequest:
    return BadRequest(
        N_("The body is not valid JSON: {error} at line {line}, column {column}."),
        code="malformed_json",
        error=error,
        line=line,
        column=column,
    )


def _decode(raw: bytes | str) -> str:
    # JSON exchanged between systems is UTF-8 (RFC 8259); a leading BOM is tolerated.
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _malformed(exc.reason, line, exc.start - raw.rfind(b"\n", 0, exc.start)) from None


def too_deep(text: str, limit: int) -> bool:
    """Whether arrays and objects in the JSON `text` nest deeper than `limit`.

    Strings are cut out first (brackets in them do not count), then the running depth is
    summed a chunk at a time, stopping at the first chunk that goes too deep.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= limit:
        return False
    depth = 0
    for start in range(0, len(brackets), _CHUNK):
        steps = map(_STEP.__getitem__, brackets[start : start + _CHUNK])
        depths = list(accumulate(steps, initial=depth))
        if max(depths) > limit:
            return True
        depth = depths[-1]
    return False


def _parse(text: str) -> Any:
    try:
        return json.loads(
            text, parse_int=_int, parse_float=_float, parse_constant=_not_json_constant
        )
    except json.JSONDecodeError as exc:
        raise _malformed(exc.msg, exc.lineno, exc.colno) from None
    except _NumberTooLong:
        raise BadRequest(
            N_("The body holds a number with more than {limit} digits."),
            code="number_too_long",
            limit=MAX_INT_DIGITS,
        ) from None
    except _NotANumber:
        raise BadRequest(
            N_("The body holds a number too large to use, or NaN or Infinity."),
            code="number_out_of_range",
        ) from None


def _int(digits: str) -> int:
    # Checked before converting: the conversion itself is what a huge number would abuse.
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _NumberTooLong
    return int(digits)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e999: no database or JSON column can hold infinity
        raise _NotANumber
    return value


def _not_json_constant(name: str) -> Any:
    # Python's parser accepts NaN and Infinity, which are not JSON.
    raise _NotANumber


def check_strings(data: Any, loc: tuple[str | int, ...] = ()) -> None:
    """Refuse (422, naming the field) any key or string that cannot be stored as text."""
    if isinstance(data, str):
        _check_string(data, loc)
    elif isinstance(data, dict):
        for key, value in data.items():
            _check_string(key, loc)
            check_strings(value, (*loc, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_strings(value, (*loc, index))


def _check_string(value: str, loc: tuple[str | int, ...]) -> None:
    # Keys are checked before they join `loc`, so the field named in the error is storable.
    problem = unstorable(value)
    if problem is not None:
        raise field_error(loc, problem)
