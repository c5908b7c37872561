"""Tracker webhook bodies for tests, built from the shapes in ../shared/trackers.md.

- TrackSim: the envelope and job object of section 1 (sources there: TrackSim's docs, the
  HubBackend and dulcisvtc receivers); speeds in m/s, distances in km, damage 0..1.
- Trucky: the `data` job object of section 2 (sources: Trucky's webhook package, HubBackend's
  converter, a captured job_created body); units per the company's settings, damage in %.
- TrucklineMP: section 3 (TrucklineMP's webhook docs and SDK).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def tracksim_job(
    job_id: int = 9001,
    steam_id: str = "76561198000000001",
    event: str = "job.delivered",
    *,
    driven: float = 812.4,
    game: str = "eut2",
    auto_park_key: str = "autoParked",
    multiplayer_key: str = "type",
) -> dict[str, Any]:
    last_meta: dict[str, Any] = (
        {"revenue": 24150, "earnedXP": 780, "distance": 805, auto_park_key: False}
        if event == "job.delivered"
        else {"penalty": 3200}
    )
    return {
        "object": "event",
        "type": event,
        "data": {
            "object": {
                "id": job_id,
                "uuid": "0f4e2a8c-1111-2222-3333-444455556666",
                "object": "job",
                "driver": {"id": 55, "steam_id": steam_id, "username": "Dave"},
                "start_time": "2026-11-30T18:00:00Z",
                "stop_time": "2026-11-30T19:12:30Z",
                "time_spent": 4350,
                "planned_distance": 805,
                "driven_distance": driven,
                "fuel_used": 301.5,
                "market": "freight_market",
                "cargo": {"unique_id": "c1", "name": "Apples", "mass": 18200, "damage": 0.031},
                "game": {"short_name": game, "language": "en", "had_police_enabled": True},
                "multiplayer": {multiplayer_key: "truckersmp", "meta": {"server": "Simulation 1"}},
                "source_city": {"unique_id": "berlin", "name": "Berlin"},
                "source_company": {"unique_id": "tsm", "name": "TSM"},
                "destination_city": {"unique_id": "calais", "name": "Calais"},
                "destination_company": None,
                "truck": {
                    "unique_id": "t1",
                    "name": "S 730",
                    "brand": {"unique_id": "scania", "name": "Scania"},
                    "top_speed": 25.0,  # m/s: 90 km/h
                },
                "trailers": [{"name": "Reefer"}],
                "events": [
                    {"type": "job.started", "meta": {"autoLoaded": False}},
                    {"type": "fine", "meta": {"offence": "speeding", "amount": "250"}},
                    {"type": "tollgate", "meta": {"cost": 40}},
                    {"type": "ferry", "meta": {"cost": 510, "source_name": "Calais"}},
                    {"type": event, "meta": last_meta},
                ],
            }
        },
    }


def trucky_job(
    job_id: int = 4242,
    steam_id: str = "76561198000000001",
    event: str = "job_completed",
    *,
    miles: bool = True,
) -> dict[str, Any]:
    """An ATS job of a company that set miles, pounds and gallons, with null `*_km` fields."""
    return {
        "event": event,
        "data": {
            "id": job_id,
            "status": "canceled" if "cancel" in event else "completed",
            "driver": {"id": 7, "name": "Dave", "steam_profile": {"steam_id": steam_id}},
            "company_id": 12,
            "game_id": 2,
            "started_at": "2026-11-30T15:05:39.000000Z",
            "completed_at": "2026-11-30T16:10:00.000000Z",
            "distance_unit": "mi" if miles else "km",
            "weight_unit": "lb",
            "volume_unit": "gal",
            "driven_distance": 500,
            "planned_distance": 510,
            "real_driven_distance_km": None,
            "driven_distance_km": None,
            "planned_distance_km": None,
            "max_speed": 75,
            "fuel_used": 100,
            "fuel_used_l": None,
            "cargo_mass": 40000,
            "cargo_mass_t": None,
            "cargo_damage": 4.5,  # percent
            "income": 31000 if "cancel" not in event else -2000,
            "cargo_name": "Lumber",
            "source_city_name": "Reno",
            "destination_city_name": "Sacramento",
            "game_mode": "sp",
            "realistic_settings": {"police": True, "fatigue": False},
            "fines_details": [{"offence": "red_signal", "amount": 300}],
            "tollgates_details": [{"amount": 12}],
            "transports_details": [],
        },
    }


def trucklinemp_event(delivery: str = "dlv-1", event: str = "vtc.member_joined") -> dict:
    return {"event": event, "event_id": delivery, "timestamp": "2026-11-30T10:00:00Z", "data": {}}


def custom_job(job_id: str = "c-77", steam_id: str = "76561198000000001") -> dict[str, Any]:
    """Our own format (README, "Other trackers")."""
    return {
        "event": "job.delivered",
        "job": {
            "id": job_id,
            "steam_id": steam_id,
            "driver_name": "Dave",
            "game": "ets2",
            "driven_km": 120.5,
            "planned_km": 118,
            "revenue": 5400,
            "cargo": "Milk",
            "cargo_mass_kg": 12000,
            "top_speed_kmh": 88,
            "source_city": "Lyon",
            "destination_city": "Paris",
            "finished_at": "2026-11-30T12:00:00Z",
        },
    }


def sign(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def tracksim_bytes(body: dict) -> bytes:
    """What TrackSim sends and signs: Python's default json.dumps."""
    return json.dumps(body).encode()
