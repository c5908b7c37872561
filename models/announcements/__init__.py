"""The announcements plugin: typed announcements staff publish (now or at a set time), read
on the website as cleaned HTML and posted to the hub's Discord channels.

- `tables`: the rows. `schemas`: inputs and views. `ops`: every operation, for the adapters.

Only the tables are imported here: the registry names this package as a model module, and
the operations import the registry.
"""

from models.announcements.tables import Announcement, AnnouncementType, Visibility

__all__ = ["Announcement", "AnnouncementType", "Visibility"]
