"""Rich messages and data-built forms stay within what Discord accepts."""

from __future__ import annotations

import discord
import pytest

from bot.components import PersistentButton, custom_id
from bot.layout import MAX_COMPONENTS, MAX_TEXT, Card
from bot.modals import Choice, FormField, check_form
from tests.fakediscord import rules

pytestmark = pytest.mark.backend_independent


def v2_body(view: discord.ui.LayoutView) -> dict:
    return {"flags": 1 << 15, "components": view.to_components()}


def count(components: list[dict]) -> int:
    total = 0
    for component in components:
        total += 1
        total += count(component.get("components") or [])
        if component.get("accessory"):
            total += 1
    return total


def test_a_card_with_too_much_data_stays_within_discords_limits() -> None:
    card = Card(accent=0x336699)
    card.add_text("## Leaderboard")
    for rank in range(1, 101):
        card.add_text(f"**{rank}.** driver {rank} — {rank * 1000} km " + "·" * 40)
        if rank % 10 == 0:
            card.add_separator()
    body = v2_body(card.view(more="…and {count} more."))
    assert rules.check_message(body) == []  # the emulator's V2 rules
    assert count(body["components"]) <= MAX_COMPONENTS
    texts = [c["content"] for c in body["components"][0]["components"] if c["type"] == 10]
    assert sum(map(len, texts)) <= MAX_TEXT
    assert texts[-1] == f"…and {card.left_out} more."
    assert card.left_out > 0


def test_a_small_card_shows_everything() -> None:
    card = Card()
    for line in ("a", "b", "c"):
        assert card.add_text(line)
    assert card.add_buttons(discord.ui.Button(label="Go", custom_id="dh:x:go"))
    body = v2_body(card.view(more="…and {count} more."))
    assert rules.check_message(body) == []
    texts = [c["content"] for c in body["components"][0]["components"] if c["type"] == 10]
    assert texts == ["a", "b", "c"]


def test_custom_ids_longer_than_discord_allows_are_refused() -> None:
    assert custom_id("events", "rsvp", 42, "yes") == "dh:events:rsvp:42:yes"
    with pytest.raises(ValueError, match="longer than 100"):
        custom_id("events", "x" * 100)


def test_check_form_names_what_discord_would_refuse() -> None:
    choice = Choice("a", "A")
    pair = (choice, Choice("b", "B"))
    ok = [FormField("name", "Name"), FormField("game", "Game", "radio", choices=pair)]
    assert check_form("Apply", ok) == []
    assert check_form("Apply", [FormField("a", "A"), FormField("a", "B")]) == [
        "field keys must be unique (they are the custom ids): ['a', 'a']"
    ]
    assert check_form("Apply", [FormField("a", "A", min_length=10, max_length=5)]) == [
        "a: min_length is above max_length"
    ]
    problems = check_form(
        "x" * 46,
        [
            FormField("a", "L" * 46),
            FormField("b", "Pick", "radio", choices=(choice,)),
            FormField(
                "c", "Many", "checkboxes", choices=tuple(Choice(str(i), "C") for i in range(11))
            ),
            FormField("d", "Desc", description="d" * 101),
            FormField("e", "Long", max_length=4001),
            FormField("f", "Sixth"),
        ],
    )
    assert problems == [
        "a modal holds 1-5 fields, not 6",
        "title must be 1-45 characters",
        "a: label must be 1-45 characters",
        "b: radio takes 2-10 choices",
        "c: checkboxes takes 1-10 choices",
        "d: description is longer than 100",
        "e: max_length must be 1-4000",
    ]
    assert check_form(
        "Apply",
        [
            FormField("g", "Game", "radio", choices=(choice, choice)),
            FormField("h", "Text", max_length=3, default="long"),
            FormField("i", "Pick", "select", choices=(Choice("x" * 101, "X"),)),
        ],
    ) == [
        "g: choice values must be unique",
        "h: the default is longer than max_length",
        "i: choice 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxx' needs a value and label of 1-100",
    ]


def test_a_card_shortens_a_long_text_and_counts_buttons_beyond_a_row() -> None:
    card = Card()
    assert card.add_text("x" * 4000)  # shortened to the room left, not dropped
    buttons = [discord.ui.Button(label=f"b{i}", custom_id=f"dh:x:{i}") for i in range(7)]
    card.add_text("y")  # no room left at all now: counted
    body_card = Card()
    assert body_card.add_buttons(*buttons)
    assert body_card.left_out == 2  # a row takes five
    body = v2_body(card.view(more="…and {count} more."))
    assert rules.check_message(body) == []
    texts = [c["content"] for c in body["components"][0]["components"] if c["type"] == 10]
    assert texts[0].endswith("…")
    assert texts[-1] == "…and 1 more."


def test_a_card_takes_persistent_buttons() -> None:
    class Go(PersistentButton, template=r"dh:test:go:(?P<n>[0-9]+)"):
        def __init__(self, n: int) -> None:
            super().__init__(self.button(custom_id("test", "go", n), f"Go {n}"))

    card = Card()
    assert card.add_buttons(Go(1), Go(2))
    body = v2_body(card.view(more="{count} {not a field}"))
    assert rules.check_message(body) == []
    (row,) = [c for c in body["components"][0]["components"] if c["type"] == 1]
    assert [b["label"] for b in row["components"]] == ["Go 1", "Go 2"]
