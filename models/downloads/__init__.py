"""The downloads plugin: files and links (mods, skins, guides) shared with a hub's members
through short-lived links bound to the member who asked.

- `tables`: the rows. `schemas`: inputs and views. `ops`: every operation, for the adapters.

Only the tables are imported here: the registry names this package as a model module, and
the operations import the registry.
"""

from models.downloads.tables import Download, DownloadLink

__all__ = ["Download", "DownloadLink"]
