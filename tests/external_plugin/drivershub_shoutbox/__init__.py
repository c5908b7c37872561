"""A hub shoutbox: the example of an external Drivers Hub plugin.

Installed as its own distribution, it declares itself through the `drivershub.plugins` entry
point and brings everything a plugin can: a permission, its own Tortoise app with its own
migrations, a router, a cog and its own translations. Only `models.plugins` and `models.i18n`
are imported here, so loading the entry point stays cheap and free of import cycles.
"""

from __future__ import annotations

from pathlib import Path

from models.i18n import N_
from models.plugins import Package

PACKAGE = Package(
    key="shoutbox",
    label=N_("Shoutbox"),
    permissions={"post_shouts": N_("Post to the shoutbox")},
    models=("drivershub_shoutbox.tables",),
    app="shoutbox",
    migrations="drivershub_shoutbox.migrations",
    router="drivershub_shoutbox.web:router",
    cog="drivershub_shoutbox.cog",
    locales=Path(__file__).parent / "locales",
    # External plugins start off in new hubs: staff turn them on.
    default_on=False,
)
