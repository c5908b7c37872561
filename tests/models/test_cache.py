"""The shared cache: keys are namespaced, and clearing stays inside the namespace."""

from __future__ import annotations

from models.cache import cache, clear_cache, forget, versioned


async def test_clearing_keeps_other_deployments_keys() -> None:
    own = cache()
    await own.set("x", 1)
    foreign_key = "another-deployment:x"
    # Write beside our namespace as a neighbour sharing the same server would.
    await own.set(foreign_key, 2, namespace="")
    await clear_cache()
    assert await own.get("x") is None
    assert await own.get(foreign_key, namespace="") == 2
    await own.delete(foreign_key, namespace="")


async def test_a_versioned_entry_is_read_until_its_version_is_forgotten() -> None:
    loads: list[int] = []

    async def load() -> dict[str, int]:
        loads.append(1)
        return {"n": len(loads)}

    assert await versioned("v", "page", 60, load) == {"n": 1}
    assert await versioned("v", "page", 60, load) == {"n": 1}  # one round trip, no load
    await forget("v")
    assert await versioned("v", "page", 60, load) == {"n": 2}
    assert await versioned("v", "page", 60, load) == {"n": 2}
    assert len(loads) == 2


async def test_a_load_that_straddles_a_change_is_not_served_after_it() -> None:
    """A reader loads the old data, the writer commits and forgets the version, then the
    reader stores what it loaded: the next reader must not get it."""
    await versioned("v2", "other page", 60, _value("warm"))  # the version exists

    async def slow_old_load() -> str:
        await forget("v2")  # the writer's change lands while this reader loads
        return "old"

    assert await versioned("v2", "page2", 60, slow_old_load) == "old"
    assert await versioned("v2", "page2", 60, _value("new")) == "new"


def _value(text: str):  # type: ignore[no-untyped-def]
    async def load() -> str:
        return text

    return load
