"""The notifications package (core, always on): what people are told, where they chose.

- `tables`: the rows. `center`: `notify` (what every package calls, inside its transaction),
  the in-app list, unread count, read marks and preferences. `broadcast`: a notification to
  a whole hub or role, fanned out in batches. `live`: wake-ups for live streams, shared
  between processes through Redis. `digest`: Discord DMs, several notifications in one.

Only the tables are imported here: the registry imports this package, and the operations
import the registry.
"""

from models.notifications.tables import (
    Broadcast,
    BroadcastStatus,
    DmState,
    Notification,
    NotificationPreference,
)

__all__ = ["Broadcast", "BroadcastStatus", "DmState", "Notification", "NotificationPreference"]
