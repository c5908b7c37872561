"""The tracker plugin: job webhooks from TrackSim, Trucky and other trackers, verified,
stored before they are acknowledged, deduplicated, normalised into one job model and matched
to a driver.

- `tables`: the rows. `formats`: each tracker's wire format (signature, event, job id) and
  its normalisation. `intake`: receiving a delivery. `processing`: the worker that turns
  stored deliveries into jobs. `ops`: staff and driver operations, for the adapters.

Only the tables are imported here: the registry names this package as a model module.
"""

from models.tracker.tables import (
    IntakeState,
    Job,
    JobStatus,
    TrackerChoice,
    TrackerConnection,
    TrackerIntake,
    TrackerKind,
)

__all__ = [
    "IntakeState",
    "Job",
    "JobStatus",
    "TrackerChoice",
    "TrackerConnection",
    "TrackerIntake",
    "TrackerKind",
]
