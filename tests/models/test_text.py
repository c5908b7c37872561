"""Names and free text: one rule for what is stored (NFC, no controls, something visible),
JSON read within bounds, and patches that refuse null where a value is needed."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from models import hubs, json_input
from models.actor import SYSTEM
from models.errors import BadRequest, Invalid
from models.hubs import Hub, HubUpdate
from models.text import Name, Text
from models.validation import Patch, parse_id, validate

# Runs its own SQLite or no database at all: the PostgreSQL pass of .ci/run leaves it out.
pytestmark = pytest.mark.backend_independent

ShortName = Name(20)
Bio = Text(50)


class Card(BaseModel):
    """A test-only input with every kind of text field."""

    name: ShortName
    nickname: Patch[ShortName] = None
    bio: Bio = ""


def _errors(data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Card.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


# Names


def test_names_are_stored_in_nfc_without_blank_ends() -> None:
    card = Card(name="  Cafe\u0301 \u200b", bio="  Cafe\u0301\r\nline two\ttabbed \n")
    assert card.name == "Café"
    assert card.bio == "Café\nline two\ttabbed"


@pytest.mark.parametrize(
    "name",
    [
        "\u200b\u200b",  # zero-width spaces
        "\u200c\u200d\u2060\ufeff",  # joiners, word joiner, BOM
        "\u0301\u0308",  # combining marks with nothing to sit on
        "\u3164\u3164",  # Hangul fillers, a favourite for "empty" names
        "\u2800",  # braille blank
        "\u200e\u202e",  # bidi marks and overrides
    ],
)
def test_a_name_of_invisible_characters_is_refused(name: str) -> None:
    assert _errors({"name": name}) == {"name": "Value error, must contain a visible character"}


@pytest.mark.parametrize("name", ["a\x00b", "tab\there", "two\nlines", "bell\x07", "del\x7f"])
def test_control_characters_in_a_name_are_refused(name: str) -> None:
    assert set(_errors({"name": name})) == {"name"}


def test_line_separators_make_a_name_two_lines() -> None:
    assert _errors({"name": "one\u2028two"}) == {"name": "Value error, must be a single line"}


def test_blank_names_and_long_names_fail_on_their_length() -> None:
    assert "at least 1 character" in _errors({"name": "   "})["name"]
    assert "at most 20 characters" in _errors({"name": "x" * 21})["name"]


def test_length_is_counted_after_normalising() -> None:
    # U+0958 is one character typed, two in NFC: a column sized for the limit must hold it.
    assert "at most 20 characters" in _errors({"name": "\u0958" * 11})["name"]
    assert Card(name=" " * 30 + "ok").name == "ok"


def test_text_keeps_line_breaks_and_tabs_but_no_other_controls() -> None:
    assert Card(name="x", bio="a\n\tb").bio == "a\n\tb"
    for bad in ("a\x00b", "a\x1bb", "a\x85b"):
        assert set(_errors({"name": "x", "bio": bad})) == {"bio"}


def test_an_unpaired_surrogate_is_not_text() -> None:
    errors = _errors({"name": "a\ud800"})
    assert "unpaired surrogate" in errors["name"]


def test_other_types_keep_pydantics_own_error() -> None:
    assert _errors({"name": 5}) == {"name": "Input should be a valid string"}


def test_visible_names_in_any_script_pass() -> None:
    for name in ("Ünïcödé", "Дальнобойщики", "トラック", "🚚💨", "👩\u200d🚒 crew", "हिन्दी"):
        assert Card(name=name).name == name


# Patches: left out keeps, null is refused


def test_patch_fields_may_be_left_out_but_not_null() -> None:
    assert Card(name="x").nickname is None
    assert "nickname" not in Card(name="x").model_fields_set
    errors = _errors({"name": "x", "nickname": None})
    assert errors == {"nickname": "cannot be null: leave the field out to keep it"}


def test_a_patch_field_is_not_nullable_in_the_schema() -> None:
    schema = Card.model_json_schema()["properties"]["nickname"]
    assert schema["type"] == "string"
    assert "anyOf" not in schema
    assert "default" not in schema  # null is no value it takes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"language": None}, "language"),
        ({"public": None}, "public"),
        ({"settings": None}, "settings"),
        ({"settings": {"description": None}}, "settings.description"),
        ({"settings": {"accent_color": None}}, "settings.accent_color"),
    ],
)
def test_hub_update_refuses_null_where_a_value_is_needed(change: dict, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate(HubUpdate, change)
    assert [e["field"] for e in caught.value.params["errors"]] == [field]


def test_hub_update_takes_null_to_clear_optional_settings() -> None:
    change = validate(HubUpdate, {"settings": {"website": None, "audit_channel_id": None}})
    assert change.settings is not None
    assert change.settings.model_fields_set == {"website", "audit_channel_id"}


# Ids


@pytest.mark.parametrize(
    "value",
    ["0", "-1", " 1", "1 ", "01", "1e3", "+1", "١٢٣", "99999999999999999999999", str(2**63), 5],
)
def test_only_canonical_ids_in_range_parse(value: object) -> None:
    assert parse_id(value) is None


def test_canonical_ids_parse() -> None:
    assert (parse_id("1"), parse_id(str(2**63 - 1))) == (1, 2**63 - 1)


# Reading JSON within bounds


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nesting_is_bounded() -> None:
    assert json_input.load(_nested(32)) is not None
    for body in (_nested(33), '{"a":' * 33 + "1" + "}" * 33, "[" * 200_000):
        with pytest.raises(BadRequest) as caught:
            json_input.load(body)
        assert caught.value.code == "json_too_deep"


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"text": "[" * 100 + '\\"{' * 50})
    assert json_input.load(body) == json.loads(body)


def test_long_integers_are_refused_before_conversion() -> None:
    assert json_input.load("[" + "9" * 30 + "]") == [int("9" * 30)]
    for body in ("[" + "9" * 31 + "]", "-" + "1" * 31, "1" * 100_000):
        with pytest.raises(BadRequest) as caught:
            json_input.load(body)
        assert caught.value.code == "number_too_long"


@pytest.mark.parametrize("body", ["1e999", "[-1e400]", "NaN", '{"a": Infinity}', "-Infinity"])
def test_numbers_nothing_can_store_are_refused(body: str) -> None:
    with pytest.raises(BadRequest) as caught:
        json_input.load(body)
    assert caught.value.code == "number_out_of_range"


def test_nul_and_surrogates_are_refused_naming_the_field() -> None:
    with pytest.raises(Invalid) as caught:
        json_input.load('{"settings": {"plugins": {"x": ["ok", "a\\u0000b"]}}}')
    assert caught.value.params["errors"][0]["field"] == "settings.plugins.x.1"
    with pytest.raises(Invalid) as caught:
        json_input.load('{"name": "\\ud800"}')
    assert caught.value.params["errors"][0]["field"] == "name"
    assert json_input.load('{"emoji": "\\ud83d\\ude9a"}') == {"emoji": "🚚"}


def test_a_body_that_is_not_utf8_names_where() -> None:
    with pytest.raises(BadRequest) as caught:
        json_input.load(b'{\n "a": "\xff"}')
    assert (caught.value.code, caught.value.params["line"]) == ("malformed_json", 2)


# Operations that take a name as a plain argument


async def test_create_hub_normalises_and_checks_the_name() -> None:
    hub = await hubs.create_hub(SYSTEM, "  Cafe\u0301 Racers ")
    assert (await Hub.get(id=hub.id)).name == "Café Racers"
    for bad in ("Night\x00Owls", "\u200b\u200b", ""):
        with pytest.raises(Invalid):
            await hubs.create_hub(SYSTEM, bad, "some-slug")
    assert await Hub.all().count() == 1
