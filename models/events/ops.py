"""Every events operation in one namespace, for the adapters:
`from models.events import ops` then `ops.rsvp(actor, hub, ...)`."""

from models.events.attendance import (
    attendance,
    attendance_of,
    confirm_attendance,
    set_attendance,
)
from models.events.common import (
    KEY,
    MANAGE,
    POST,
    SCHEDULED,
    UNSCHEDULED,
    event_view,
    occurrence_view,
)
from models.events.ical import ical_feed, ical_secret, rotate_ical_secret, user_ical_feed
from models.events.manage import (
    cancel_event,
    cancel_occurrence,
    create_event,
    delete_event,
    update_event,
)
from models.events.mirror import (
    discord_interest,
    post_occurrence,
    record_discord_event,
    record_event_post,
    sync_from_discord,
)
from models.events.reading import get_event, get_occurrence, list_events
from models.events.reminders import occurrence_ended, run_due, send_due_reminders
from models.events.rsvps import rsvp

__all__ = [
    "KEY",
    "MANAGE",
    "POST",
    "SCHEDULED",
    "UNSCHEDULED",
    "attendance",
    "attendance_of",
    "cancel_event",
    "cancel_occurrence",
    "confirm_attendance",
    "create_event",
    "delete_event",
    "discord_interest",
    "event_view",
    "get_event",
    "get_occurrence",
    "ical_feed",
    "ical_secret",
    "list_events",
    "occurrence_ended",
    "occurrence_view",
    "post_occurrence",
    "record_discord_event",
    "record_event_post",
    "rotate_ical_secret",
    "rsvp",
    "run_due",
    "send_due_reminders",
    "set_attendance",
    "sync_from_discord",
    "update_event",
    "user_ical_feed",
]
