"""The shared cache: keys are namespaced, and clearing stays inside the namespace."""

from __future__ import annotations

from models.cache import cache, clear_cache


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
