"""Each tracker's wire format: how it signs, where its event name and job id are, and how a
job of its turns into the one job model (models.tracker.tables.Job) with explicit units.

Facts about the formats (field names, units, quirks) are in ../shared/trackers.md with their
sources. Everything here is a pure function of the bytes, the headers and the parsed body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from models.tracker.tables import JobStatus, TrackerKind

KM_PER_MILE = 1.609344
LITRES_PER_GALLON = 3.785412
KG_PER_POUND = 0.45359237
MS_TO_KMH = 3.6
# No job is longer than this (the longest routes are a few thousand km): a bigger number is
# a broken sender, recorded failed rather than counted.
MAX_KM = 20_000.0
MAX_MONEY = 10_000_000.0
MAX_KG = 200_000.0
MAX_LITRES = 20_000.0
MAX_KMH = 1_000.0

# The header each tracker signs in (HTTP header names are case-insensitive).
SIGNATURE_HEADERS = {
    TrackerKind.TRACKSIM: "tracksim-signature",
    TrackerKind.TRUCKY: "X-Signature-SHA256",
    TrackerKind.TRUCKLINEMP: "X-TrucklineMP-Signature",
    TrackerKind.CUSTOM: "X-Drivershub-Signature",
}
# The reference product's custom trackers send TrackSim's format signed in this header.
LEGACY_CUSTOM_HEADER = "signature"

TRACKSIM_JOB_EVENTS = {"job.delivered": JobStatus.DELIVERED, "job.cancelled": JobStatus.CANCELLED}
TRUCKY_JOB_EVENTS = {
    "job_completed": JobStatus.DELIVERED,
    "job_canceled": JobStatus.CANCELLED,
    "job_cancelled": JobStatus.CANCELLED,
}
CUSTOM_JOB_EVENTS = TRACKSIM_JOB_EVENTS


class JobError(ValueError):
    """The delivery cannot be a job: a field is missing or absurd. The message names it."""


# Signatures


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verified(kind: TrackerKind, raw: bytes, headers: Mapping[str, str], secrets: list[str]) -> bool:
    """Whether one of `secrets` signed this delivery, the way `kind` signs. A missing or
    malformed header is a failed check. Compared in constant time."""
    given = headers.get(SIGNATURE_HEADERS[kind])
    if kind == TrackerKind.CUSTOM and given is None and LEGACY_CUSTOM_HEADER in headers:
        return _tracksim_signed(raw, headers[LEGACY_CUSTOM_HEADER], secrets)
    if given is None:
        return False
    given = given.strip()
    if kind in (TrackerKind.TRUCKLINEMP, TrackerKind.CUSTOM):
        if not given.lower().startswith("sha256="):
            return False
        given = given[len("sha256=") :]
    if kind == TrackerKind.TRACKSIM:
        return _tracksim_signed(raw, given, secrets)
    return any(_same(_hex_hmac(s, raw), given) for s in secrets)


def _tracksim_signed(raw: bytes, given: str, secrets: list[str]) -> bool:
    """TrackSim signs Python's `json.dumps` of the payload, which is what it sends: the raw
    bytes first, then (for a body re-formatted on the way) `json.dumps` of the parsed body."""
    given = given.strip()
    for message in dict.fromkeys((raw, raw.strip())):  # as sent, then without a newline
        if any(_same(_hex_hmac(s, message), given) for s in secrets):
            return True
    try:
        again = json.dumps(json.loads(raw)).encode()
    except (ValueError, RecursionError):
        return False
    return any(_same(_hex_hmac(s, again), given) for s in secrets)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.lower().encode("ascii", "replace"))


# Envelopes


@dataclass(frozen=True)
class Envelope:
    """What the door needs of a delivery: its event, and the key a retry of it shares."""

    event: str
    dedupe_key: str | None  # None: nothing to store (an event no job or plugin uses)
    job: bool  # whether the worker makes a job of it


def envelope(kind: TrackerKind, body: Any, headers: Mapping[str, str]) -> Envelope:
    """The event and dedupe key of a parsed body (JobError when a job event has no id)."""
    if not isinstance(body, dict):
        raise JobError("the body is not a JSON object")
    if kind == TrackerKind.TRUCKLINEMP:
        event = headers.get("X-TrucklineMP-Event") or _text(body.get("event") or body.get("type"))
        delivery = headers.get("X-TrucklineMP-Delivery") or _text(
            body.get("event_id") or body.get("id")
        )
        if not delivery:
            raise JobError("no delivery id (X-TrucklineMP-Delivery or event_id)")
        return Envelope(event, f"trucklinemp:delivery:{delivery}"[:128], job=False)
    event = _text(body.get("event") or body.get("type"))
    if kind == TrackerKind.TRUCKY:
        jobs = TRUCKY_JOB_EVENTS
    elif kind == TrackerKind.CUSTOM and body.get("object") != "event":
        jobs = CUSTOM_JOB_EVENTS
    else:
        jobs = TRACKSIM_JOB_EVENTS
    if event not in jobs:
        return Envelope(event, None, job=False)  # acknowledged and ignored
    return Envelope(event, f"{kind}:job:{job_id(kind, body)}", job=True)


def job_id(kind: TrackerKind, body: dict) -> str:
    job = _job_object(kind, body)
    value = job.get("id")
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, bool):
        raise JobError("the job has no id")
    text = _text(value)
    if len(text) > 64:
        raise JobError("the job id is longer than 64 characters")
    return text


def _job_object(kind: TrackerKind, body: dict) -> dict:
    if kind == TrackerKind.TRUCKY:
        job = body.get("data")
    elif kind == TrackerKind.CUSTOM and body.get("object") != "event":
        job = body.get("job")
    else:
        data = body.get("data")
        job = data.get("object") if isinstance(data, dict) else None
    if not isinstance(job, dict):
        raise JobError("the body holds no job object")
    return job


# The job model


@dataclass
class JobData:
    """A job in explicit units, ready for the jobs table."""

    tracker_job_id: str
    status: JobStatus
    steam_id: int | None
    driver_name: str = ""
    game: str = "ets2"
    market: str = ""
    multiplayer: str = ""
    server: str = ""
    truck: str = ""
    trailer: str = ""
    cargo: str = ""
    cargo_mass_kg: float = 0.0
    source_city: str = ""
    source_company: str = ""
    destination_city: str = ""
    destination_company: str = ""
    planned_km: float = 0.0
    driven_km: float = 0.0
    revenue: float = 0.0
    penalty: float = 0.0
    fuel_l: float = 0.0
    damage: float = 0.0
    top_speed_kmh: float = 0.0
    fines: float = 0.0
    tolls: float = 0.0
    ferries: float = 0.0
    realistic: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def currency(self) -> str:
        return "USD" if self.game == "ats" else "EUR"


def normalise(kind: TrackerKind, event: str, body: dict) -> JobData:
    """The job in a job event of `kind` (JobError naming what is missing or absurd)."""
    if kind == TrackerKind.TRUCKY:
        return _trucky(event, body)
    if kind == TrackerKind.CUSTOM and body.get("object") != "event":
        return _custom(event, body)
    return _tracksim(event, body)


def _tracksim(event: str, body: dict) -> JobData:
    job = _job_object(TrackerKind.TRACKSIM, body)
    status = TRACKSIM_JOB_EVENTS[event]
    events = [e for e in job.get("events") or [] if isinstance(e, dict)]
    last = _meta(events[-1]) if events else {}
    driver = _dict(job.get("driver"))
    truck = _dict(job.get("truck"))
    trailers = [t for t in job.get("trailers") or [] if isinstance(t, dict)]
    cargo = _dict(job.get("cargo"))
    game = _dict(job.get("game"))
    multiplayer = _dict(job.get("multiplayer"))
    driven = _number(job, "driven_distance", 0, MAX_KM)
    data = JobData(
        tracker_job_id=job_id(TrackerKind.TRACKSIM, body),
        status=status,
        steam_id=_steam_id(driver.get("steam_id")),
        driver_name=_name(driver.get("username")),
        game="ats" if _text(game.get("short_name")).lower() == "ats" else "ets2",
        market=_name(job.get("market")),
        multiplayer=_name(multiplayer.get("type") or multiplayer.get("mode")),
        server=_name(_dict(multiplayer.get("meta")).get("server")),
        truck=_name(_dict(truck.get("brand")).get("name"), truck.get("name")),
        trailer=_name(trailers[0].get("name")) if trailers else "",
        cargo=_name(cargo.get("name")),
        cargo_mass_kg=_number(cargo, "mass", 0, MAX_KG),
        source_city=_name(_dict(job.get("source_city")).get("name")),
        source_company=_name(_dict(job.get("source_company")).get("name")),
        destination_city=_name(_dict(job.get("destination_city")).get("name")),
        destination_company=_name(_dict(job.get("destination_company")).get("name")),
        planned_km=_number(job, "planned_distance", 0, MAX_KM),
        driven_km=driven,
        fuel_l=max(0.0, _number(job, "fuel_used", -MAX_LITRES, MAX_LITRES)),
        damage=_fraction(_number(cargo, "damage", 0, 1.0)),
        top_speed_kmh=_number(truck, "top_speed", 0, MAX_KMH / MS_TO_KMH) * MS_TO_KMH,
        started_at=_time(job.get("start_time")),
        finished_at=_time(job.get("stop_time")),
        realistic={"police": bool(game.get("had_police_enabled"))} if game else {},
    )
    for item in events:
        meta = _meta(item)
        kind = item.get("type")
        if kind == "fine":
            data.fines += _number(meta, "amount", 0, MAX_MONEY)
        elif kind == "tollgate":
            data.tolls += _number(meta, "cost", 0, MAX_MONEY)
        elif kind in ("ferry", "train"):
            data.ferries += _number(meta, "cost", 0, MAX_MONEY)
    if status == JobStatus.DELIVERED:
        data.revenue = _number(last, "revenue", -MAX_MONEY, MAX_MONEY)
        meta_km = _number(last, "distance", 0, MAX_KM)
        if meta_km and driven > meta_km * 1.5:  # a teleport or a broken odometer
            data.driven_km = 0.0
    else:
        data.penalty = _number(last, "penalty", 0, MAX_MONEY)
        data.revenue = -data.penalty
    return data


def _trucky(event: str, body: dict) -> JobData:
    job = _job_object(TrackerKind.TRUCKY, body)
    status = TRUCKY_JOB_EVENTS[event]
    game = _dict(job.get("game"))
    code = _text(game.get("code")).lower() or ("ats" if _text(job.get("game_id")) == "2" else "")
    miles = _text(job.get("distance_unit")).lower() == "mi"
    pounds = _text(job.get("weight_unit")).lower() == "lb"
    gallons = _text(job.get("volume_unit")).lower() == "gal"
    steam = _dict(_dict(job.get("driver")).get("steam_profile"))

    def km(suffixed: str, plain: str) -> float:
        if job.get(suffixed) is not None:
            return _number(job, suffixed, 0, MAX_KM)
        value = _number(job, plain, 0, MAX_KM / KM_PER_MILE if miles else MAX_KM)
        return value * KM_PER_MILE if miles else value

    driven = km("real_driven_distance_km", "driven_distance")
    if driven == 0 and job.get("real_driven_distance_km") is None:
        driven = km("driven_distance_km", "driven_distance")
    if job.get("fuel_used_l") is not None:
        fuel = _number(job, "fuel_used_l", 0, MAX_LITRES)
    else:
        fuel = _number(job, "fuel_used", 0, MAX_LITRES) * (LITRES_PER_GALLON if gallons else 1)
    if job.get("cargo_mass_t") is not None:
        mass = _number(job, "cargo_mass_t", 0, MAX_KG / 1000) * 1000
    else:
        mass = _number(job, "cargo_mass", 0, MAX_KG) * (KG_PER_POUND if pounds else 1)
    if job.get("max_speed_kmh") is not None:
        speed = _number(job, "max_speed_kmh", 0, MAX_KMH)
    else:
        speed = _number(job, "max_speed", 0, MAX_KMH) * (KM_PER_MILE if miles else 1)
    income = _number(job, "income", -MAX_MONEY, MAX_MONEY)
    mode = _text(job.get("game_mode"))  # "sp": single player
    data = JobData(
        tracker_job_id=job_id(TrackerKind.TRUCKY, body),
        status=status,
        steam_id=_steam_id(steam.get("steam_id")),
        driver_name=_name(_dict(job.get("driver")).get("name")),
        game="ats" if code == "ats" else "ets2",
        market=_name(job.get("market")),
        multiplayer="" if mode in ("", "sp") else _name(mode),
        server=_name(job.get("server")),
        truck=_name(job.get("vehicle_brand_name"), job.get("vehicle_model_name")),
        trailer=_name(job.get("trailer_name") or job.get("trailer_body_type")),
        cargo=_name(job.get("cargo_name")),
        cargo_mass_kg=mass,
        source_city=_name(job.get("source_city_name")),
        source_company=_name(job.get("source_company_name")),
        destination_city=_name(job.get("destination_city_name")),
        destination_company=_name(job.get("destination_company_name")),
        planned_km=km("planned_distance_km", "planned_distance"),
        driven_km=driven,
        fuel_l=fuel,
        # Trucky sends damage in percent.
        damage=_fraction(_number(job, "cargo_damage", 0, 100) / 100),
        top_speed_kmh=speed,
        realistic=_dict(job.get("realistic_settings")),
        started_at=_time(job.get("started_at")),
        finished_at=_time(job.get("completed_at") or job.get("canceled_at")),
    )
    data.fines = _sum(job.get("fines_details"), "amount")
    data.tolls = _sum(job.get("tollgates_details"), "amount")
    data.ferries = _sum(job.get("transports_details"), "amount")
    if status == JobStatus.DELIVERED:
        data.revenue = income
    else:  # Trucky reports the lost pay as income; the sign varies, the loss does not
        data.penalty = abs(income)
        data.revenue = -data.penalty
        data.driven_km = 0.0
    return data


def _custom(event: str, body: dict) -> JobData:
    """Our documented format (README, "Other trackers"): units already explicit."""
    job = _job_object(TrackerKind.CUSTOM, body)
    status = CUSTOM_JOB_EVENTS[event]
    game = _text(job.get("game")).lower()
    if game not in ("ets2", "ats"):
        raise JobError("game must be ets2 or ats")
    data = JobData(
        tracker_job_id=job_id(TrackerKind.CUSTOM, body),
        status=status,
        steam_id=_steam_id(job.get("steam_id")),
        driver_name=_name(job.get("driver_name")),
        game=game,
        market=_name(job.get("market")),
        multiplayer=_name(job.get("multiplayer")),
        server=_name(job.get("server")),
        truck=_name(job.get("truck")),
        trailer=_name(job.get("trailer")),
        cargo=_name(job.get("cargo")),
        cargo_mass_kg=_number(job, "cargo_mass_kg", 0, MAX_KG),
        source_city=_name(job.get("source_city")),
        source_company=_name(job.get("source_company")),
        destination_city=_name(job.get("destination_city")),
        destination_company=_name(job.get("destination_company")),
        planned_km=_number(job, "planned_km", 0, MAX_KM),
        driven_km=_number(job, "driven_km", 0, MAX_KM),
        revenue=_number(job, "revenue", -MAX_MONEY, MAX_MONEY),
        penalty=_number(job, "penalty", 0, MAX_MONEY),
        fuel_l=_number(job, "fuel_l", 0, MAX_LITRES),
        damage=_number(job, "damage", 0, 1),
        top_speed_kmh=_number(job, "top_speed_kmh", 0, MAX_KMH),
        fines=_number(job, "fines", 0, MAX_MONEY),
        tolls=_number(job, "tolls", 0, MAX_MONEY),
        ferries=_number(job, "ferries", 0, MAX_MONEY),
        realistic=_dict(job.get("realistic")),
        started_at=_time(job.get("started_at")),
        finished_at=_time(job.get("finished_at")),
    )
    if status == JobStatus.CANCELLED:
        data.revenue = -data.penalty
    return data


# Loose values, read strictly


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _meta(event: dict) -> dict:
    return _dict(event.get("meta"))


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _name(*values: Any) -> str:
    """The first non-empty text of `values`, joined when there are two (brand and model)."""
    parts = [_text(v) for v in values if _text(v)]
    return " ".join(parts)[:200]


def _number(source: dict, key: str, low: float, high: float) -> float:
    """A number that may arrive as a string; missing or null is 0; outside low..high (or not
    a number) is a JobError naming the field."""
    value = source.get(key)
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise JobError(f"{key} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise JobError(f"{key} is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise JobError(f"{key} is out of range: {number:g} (allowed {low:g} to {high:g})")
    return number


def _fraction(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _sum(items: Any, key: str) -> float:
    if not isinstance(items, list):
        return 0.0
    return sum(_number(item, key, 0, MAX_MONEY) for item in items if isinstance(item, dict))


def _steam_id(value: Any) -> int | None:
    """Steam ids arrive as strings (they overflow JavaScript numbers) or numbers."""
    text = _text(value)
    if not text:
        return None
    if not text.isdigit() or len(text) > 19:
        raise JobError(f"steam_id is not a Steam id: {text[:40]!r}")
    return int(text)


def _time(value: Any) -> datetime | None:
    """An ISO-8601 time (Laravel's microseconds and a Z included), or Unix seconds."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        text = str(value).strip().replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise JobError(f"not a time: {str(value)[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
