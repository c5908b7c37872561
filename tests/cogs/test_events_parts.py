"""The events cog's pure helpers: reading times in a zone, routes, the echo of the bot's edits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from cogs import events as cog

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_time_is_read_in_the_given_zone_and_stored_in_utc() -> None:
    assert cog.parse_local("2026-07-01 19:30", BERLIN) == datetime(2026, 7, 1, 17, 30, tzinfo=UTC)
    assert cog.parse_local("2026-01-01T19.30", BERLIN) == datetime(2026, 1, 1, 18, 30, tzinfo=UTC)


def test_a_clock_time_needs_the_day_and_nonsense_is_none() -> None:
    day = date(2026, 7, 1)
    assert cog.parse_local("19:45", BERLIN, day) == datetime(2026, 7, 1, 17, 45, tzinfo=UTC)
    assert cog.parse_local("19:45", BERLIN) is None
    assert cog.parse_local("tomorrow", BERLIN, day) is None
    assert cog.parse_local("2026-02-30 10:00", BERLIN) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Berlin (Tesla) → Calais (Tree-Et)",
            {
                "departure_city": "Berlin",
                "departure_company": "Tesla",
                "arrival_city": "Calais",
                "arrival_company": "Tree-Et",
            },
        ),
        ("Berlin -> Calais", {"departure_city": "Berlin", "arrival_city": "Calais"}),
        ("Duisburg", {"departure_city": "Duisburg"}),
        ("", {}),
    ],
)
def test_routes_are_read_as_cities_and_companies(text: str, expected: dict[str, str]) -> None:
    assert cog.parse_route(text) == expected


def test_the_bots_own_edit_is_recognised_as_its_echo() -> None:
    body = {
        "name": "Convoy",
        "description": "",
        "scheduled_start_time": "2026-07-01T17:30:00+00:00",
        "scheduled_end_time": "2026-07-01T19:30:00+00:00",
    }
    cog._remember(42, body)
    echo = {**body, "scheduled_start_time": "2026-07-01T17:30:00.000000+00:00", "status": 1}
    assert cog.is_echo(42, echo)
    assert not cog.is_echo(42, {**body, "name": "Convoy (moved)"})
    assert not cog.is_echo(43, body)
