"""Steam OpenID assertions: what a forged or replayed one looks like, and that it is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import steam
from models.errors import Unauthorized

ENDPOINT = "https://steamcommunity.com/openid/login"
RETURN_TO = "https://hub.example.com/api/v1/auth/steam/callback?state=abc"
STEAM_ID = 76561197960287930
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def assertion(**changes: str) -> dict[str, str]:
    claimed = f"https://steamcommunity.com/openid/id/{STEAM_ID}"
    params = {
        "openid.ns": steam.OPENID_NS,
        "openid.mode": "id_res",
        "openid.op_endpoint": ENDPOINT,
        "openid.claimed_id": claimed,
        "openid.identity": claimed,
        "openid.return_to": RETURN_TO,
        "openid.response_nonce": "2026-05-01T11:59:30Zab12",
        "openid.assoc_handle": "1234567890",
        "openid.signed": "signed,op_endpoint,claimed_id,identity,return_to,response_nonce,"
        "assoc_handle",
        "openid.sig": "c2lnbmF0dXJl",
    }
    return params | changes


def check(params: dict[str, str]) -> int:
    return steam.check_assertion(params, endpoint=ENDPOINT, return_to=RETURN_TO, now=NOW)


def refused_code(params: dict[str, str]) -> str:
    with pytest.raises(Unauthorized) as caught:
        check(params)
    return caught.value.code


def test_a_well_formed_assertion_names_the_steam_id() -> None:
    assert check(assertion()) == STEAM_ID


def test_foreign_op_endpoint_is_refused() -> None:
    forged = assertion(**{"openid.op_endpoint": "https://evil.example/openid/login"})
    assert refused_code(forged) == "steam_foreign_endpoint"


def test_claimed_id_swapped_for_another_users_is_refused() -> None:
    other = "https://steamcommunity.com/openid/id/76561197960287931"
    assert refused_code(assertion(**{"openid.claimed_id": other})) == "steam_bad_identity"


@pytest.mark.parametrize(
    "claimed",
    [
        "http://steamcommunity.com/openid/id/76561197960287930",  # not https
        "https://steamcommunity.com.evil.com/openid/id/76561197960287930",
        "https://steamcommunity.com/openid/id/76561197960287930/",
        "https://steamcommunity.com/openid/id/12345",
        "https://evil.com/?https://steamcommunity.com/openid/id/76561197960287930",
    ],
)
def test_claimed_id_not_exactly_steams_format_is_refused(claimed: str) -> None:
    forged = assertion(**{"openid.claimed_id": claimed, "openid.identity": claimed})
    assert refused_code(forged) == "steam_bad_identity"


def test_return_to_mismatch_is_refused() -> None:
    forged = assertion(**{"openid.return_to": RETURN_TO.replace("abc", "other")})
    assert refused_code(forged) == "steam_return_to_mismatch"


def test_mode_other_than_id_res_is_refused() -> None:
    assert refused_code(assertion(**{"openid.mode": "cancel"})) == "steam_bad_response"


def test_unsigned_return_to_is_refused() -> None:
    signed = "signed,op_endpoint,claimed_id,identity,response_nonce,assoc_handle"
    assert refused_code(assertion(**{"openid.signed": signed})) == "steam_unsigned_fields"


def test_old_nonce_is_refused() -> None:
    old = (NOW - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ") + "x"
    assert refused_code(assertion(**{"openid.response_nonce": old})) == "steam_stale_nonce"


def test_malformed_nonce_is_refused() -> None:
    assert refused_code(assertion(**{"openid.response_nonce": "yesterday"})) == "steam_bad_nonce"


def test_check_authentication_form_only_changes_the_mode() -> None:
    params = assertion() | {"state": "abc"}
    form = steam.check_authentication_form(params)
    assert form["openid.mode"] == "check_authentication"
    assert "state" not in form
    assert {k: v for k, v in form.items() if k != "openid.mode"} == {
        k: v for k, v in assertion().items() if k != "openid.mode"
    }


async def test_verify_asks_steam_and_accepts_is_valid_true() -> None:
    sent: list[dict[str, str]] = []

    async def steam_says(form: dict[str, str]) -> str:
        sent.append(form)
        return f"ns:{steam.OPENID_NS}\nis_valid:true\n"

    steam_id = await steam.verify(
        assertion(), endpoint=ENDPOINT, return_to=RETURN_TO, check=steam_says, now=NOW
    )
    assert steam_id == STEAM_ID
    assert sent[0]["openid.mode"] == "check_authentication"


async def test_invalid_check_authentication_is_refused() -> None:
    async def steam_says(form: dict[str, str]) -> str:
        return f"ns:{steam.OPENID_NS}\nis_valid:false\n"

    with pytest.raises(Unauthorized) as caught:
        await steam.verify(
            assertion(), endpoint=ENDPOINT, return_to=RETURN_TO, check=steam_says, now=NOW
        )
    assert caught.value.code == "steam_not_confirmed"


async def test_replayed_nonce_is_refused_before_asking_steam() -> None:
    asked: list[dict[str, str]] = []

    async def steam_says(form: dict[str, str]) -> str:
        asked.append(form)
        return f"ns:{steam.OPENID_NS}\nis_valid:true\n"

    kwargs = {"endpoint": ENDPOINT, "return_to": RETURN_TO, "check": steam_says, "now": NOW}
    await steam.verify(assertion(), **kwargs)
    with pytest.raises(Unauthorized) as caught:
        await steam.verify(assertion(), **kwargs)
    assert caught.value.code == "steam_nonce_reused"
    assert len(asked) == 1


def test_authorize_url_asks_steam_to_select_the_identity() -> None:
    url = steam.authorize_url(ENDPOINT, RETURN_TO, "https://hub.example.com")
    assert url.startswith(ENDPOINT + "?")
    assert "openid.mode=checkid_setup" in url
    assert "identifier_select" in url
    assert "openid.realm=https%3A%2F%2Fhub.example.com" in url


# GetPlayerSummaries: the persona name a new Steam user is given


def summaries(*players: dict[str, object]) -> dict[str, object]:
    return {"response": {"players": list(players)}}


def test_persona_name_of_the_player_asked_for() -> None:
    other = {"steamid": str(STEAM_ID + 1), "personaname": "Bob"}
    answer = summaries(other, {"steamid": str(STEAM_ID), "personaname": "  Cafe\u0301 Racer "})
    assert steam.persona_name(answer, STEAM_ID) == "Café Racer"  # NFC, no blank ends


def test_a_long_persona_name_is_cut_to_a_username() -> None:
    answer = summaries({"steamid": str(STEAM_ID), "personaname": "a" * 63 + " b"})
    assert steam.persona_name(answer, STEAM_ID) == "a" * 63


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(summaries(), id="player-not-listed"),
        pytest.param(summaries({"steamid": str(STEAM_ID + 1), "personaname": "B"}), id="other"),
        pytest.param(summaries({"steamid": str(STEAM_ID)}), id="no-personaname"),
        pytest.param(summaries({"steamid": str(STEAM_ID), "personaname": 7}), id="not-a-string"),
        pytest.param(summaries({"steamid": str(STEAM_ID), "personaname": "\u3164 "}), id="blank"),
        pytest.param(summaries({"steamid": str(STEAM_ID), "personaname": "a\x07"}), id="control"),
        pytest.param({"response": {}}, id="no-players"),
        pytest.param(["not", "an", "object"], id="list"),
        pytest.param(None, id="null"),
    ],
)
def test_no_usable_persona_name_is_none(answer: object) -> None:
    assert steam.persona_name(answer, STEAM_ID) is None
