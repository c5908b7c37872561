"""The events plugin: convoys planned by staff, one row per occurrence of a series, RSVPs,
reminders sent once, attendance that books points, iCal feeds and a Discord mirror.

- `tables`: the rows. `schemas`: inputs and views. `recurrence`: a series' occurrence times.
- `common`: lookups, views, side-effect helpers. `manage`: create, update, cancel, delete.
- `reading`: lists and details (`listing`: the list's page in one statement). `rsvps`:
  answering. `attendance`: points for attendees.
- `reminders`: due reminders and ended occurrences. `ical`: feeds. `mirror`: Discord's
  scheduled events. `ops`: every operation in one namespace, for the adapters.

Only the tables are imported here: the registry names this package as a model module, and
the operations import the registry.
"""

from models.events.tables import (
    Answer,
    Attendance,
    Event,
    Game,
    IcalToken,
    Occurrence,
    Recurrence,
    Reminder,
    Rsvp,
    RsvpSource,
    Visibility,
)

__all__ = [
    "Answer",
    "Attendance",
    "Event",
    "Game",
    "IcalToken",
    "Occurrence",
    "Recurrence",
    "Reminder",
    "Rsvp",
    "RsvpSource",
    "Visibility",
]
