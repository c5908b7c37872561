"""One way to page lists, everywhere: `?limit=20&cursor=…` (keyset pagination).

A page ends at its last row's sort key; the next page starts just after that key. So the
database neither skips rows (no OFFSET) nor counts them (no COUNT): a deep page costs what
the first one does, and rows added or removed during a walk neither repeat nor go missing.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.errors import Invalid
from models.validation import invalid

T = TypeVar("T")
R = TypeVar("R", bound=Model)
Key = str | int

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# The largest key today, a 100-character hub name (up to 4 UTF-8 bytes a character) and an
# id, is under 600 characters once encoded; the bound keeps junk out of the SQL.
MAX_CURSOR_LENGTH = 1024
BIGINT = range(-(2**63), 2**63)

LIMIT_DESCRIPTION = f"How many items a page holds, 1 to {MAX_LIMIT}."
CURSOR_DESCRIPTION = (
    "Where the page starts. Leave it out for the first page, then pass the `next_cursor`"
    " of the previous page, until `next_cursor` is null (the last page). Cursors are opaque:"
    " one that was not given out by the same list is refused with a 422."
)
BAD_CURSOR = PydanticCustomError(
    "invalid_cursor", "Not a cursor this list gave out; start again without one."
)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=LIMIT_DESCRIPTION)
    cursor: str | None = Field(
        default=None, min_length=1, max_length=MAX_CURSOR_LENGTH, description=CURSOR_DESCRIPTION
    )

    @field_validator("cursor")
    @classmethod
    def _readable(cls, cursor: str | None) -> str | None:
        if cursor is not None:
            decode_cursor(cursor)
        return cursor


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` to get the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="The next page's cursor; null on the last page.")


def encode_cursor(position: Sequence[Key]) -> str:
    raw = json.dumps(list(position), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> list[Key]:
    """The sort key a cursor holds; `PydanticCustomError` if it is not one we could have made."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
    except (binascii.Error, ValueError):  # bad base64, bad UTF-8 or bad JSON
        raise BAD_CURSOR from None
    if not isinstance(position, list) or not position or not all(map(_storable, position)):
        raise BAD_CURSOR
    return position


def _storable(value: Any) -> bool:
    # What the database would choke on (a 500) is refused here: out-of-range integers,
    # NUL characters and lone surrogates.
    if type(value) is int:
        return value in BIGINT
    if type(value) is str:
        return "\x00" not in value and _utf8(value)
    return False


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_cursor(cursor: str) -> Invalid:
    """The same 422 problem a malformed cursor gets from validating the query."""
    error = InitErrorDetails(type=BAD_CURSOR, loc=("cursor",), input=cursor)
    return invalid(ValidationError.from_exception_data(PageQuery.__name__, [error]))


def _key_types(model: type[Model], order: Sequence[str], *, nulls_filtered: bool) -> list[type]:
    """The Python type of each sort column; the order must end with a unique column.

    Nullable columns are allowed only when the caller filtered their nulls out.
    """
    fields = [model._meta.fields_map[key.lstrip("-")] for key in order]
    if not fields or not (fields[-1].pk or fields[-1].unique):
        raise ValueError(f"{order}: a keyset order must end with a unique column")
    if any((f.null and not nulls_filtered) or f.field_type not in KEY_TYPES for f in fields):
        raise ValueError(f"{order}: keyset columns must be non-null strings, integers or times")
    return [f.field_type for f in fields]


# Times travel in cursors as integer microseconds since the epoch (UTC).
KEY_TYPES = (str, int, datetime)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_key(value: Any) -> Key:
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(microseconds=1)
    return value


def read_position(cursor: str, types: Sequence[type]) -> list[Any]:
    position = decode_cursor(cursor)
    # A cursor from another list (another key shape) is as bad as a forged one.
    wire = [int if kind is datetime else kind for kind in types]
    if [type(value) for value in position] != wire:
        raise _bad_cursor(cursor)
    try:
        return [
            _EPOCH + timedelta(microseconds=value) if kind is datetime else value
            for kind, value in zip(types, position, strict=True)
        ]
    except OverflowError:
        raise _bad_cursor(cursor) from None


def _after(order: Sequence[str], position: Sequence[Key]) -> Q:
    """Rows sorting after `position`: (a > x) OR (a = x AND b > y) OR …, `<` for `-a`."""
    names = [key.lstrip("-") for key in order]
    ops = ["lt" if key.startswith("-") else "gt" for key in order]
    branches = [
        Q(**dict(zip(names[:i], position[:i], strict=True)), **{f"{names[i]}__{ops[i]}": value})
        for i, value in enumerate(position)
    ]
    after = Q(*branches, join_type=Q.OR)
    if len(order) == 1:
        return after
    # The redundant range on the leading key lets an index on it narrow the scan.
    return Q(**{f"{names[0]}__{ops[0]}e": position[0]}) & after


async def _shown(row: R, view: Callable[[R], T | Awaitable[T]]) -> T:
    item = view(row)
    return await item if inspect.isawaitable(item) else item


# Rows read at most per query while `keep` drops rows (the batch doubles up to this).
MAX_BATCH = 500


async def paginate(
    rows: QuerySet[R],
    query: PageQuery,
    order: tuple[str, ...],
    view: Callable[[R], T | Awaitable[T]],
    *,
    nulls_filtered: bool = False,
    keep: Callable[[R], bool] | None = None,
) -> Page[T]:
    """The page of `rows` that `query` asks for, sorted by `order` (`-key` for descending).

    `order` must end with a unique column (the id) so every row has its own place; `view`
    (plain or async) turns a row into an item. Sort on a nullable column only after
    filtering its nulls out (`nulls_filtered`). `keep` drops rows a condition the database
    cannot express leaves out (read on until the page is full).
    """
    types = _key_types(rows.model, order, nulls_filtered=nulls_filtered)
    position = None if query.cursor is None else read_position(query.cursor, types)
    # One row more than asked tells whether another page follows, without counting; with
    # `keep`, a quarter more, so a few dropped rows do not cost a second query.
    batch = query.limit + 1 if keep is None else query.limit + 2 + query.limit // 4
    kept: list[R] = []
    while True:
        after = rows if position is None else rows.filter(_after(order, position))
        found = await after.order_by(*order).limit(batch)
        kept += found if keep is None else [row for row in found if keep(row)]
        if len(kept) > query.limit or len(found) < batch:
            break
        position = [getattr(found[-1], key.lstrip("-")) for key in order]
        batch = min(batch * 2, MAX_BATCH)
    page = kept[: query.limit]
    next_cursor = None
    if len(kept) > query.limit:
        last = page[-1]
        next_cursor = encode_cursor([cursor_key(getattr(last, key.lstrip("-"))) for key in order])
    return Page(items=[await _shown(row, view) for row in page], next_cursor=next_cursor)
