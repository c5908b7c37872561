"""The applications plugin: application types with server-side forms, applying (whole form,
or step by step between Discord modals), reviewing once, conversations, statistics.

- `tables`: the rows. `forms`: the form schema, Discord's limits and answer validation.
- `schemas`: inputs and views. `types`: type CRUD and eligibility. `flow`: applying, drafts,
  withdrawing. `review`: listing, deciding, claiming. `conversation`: messages. `stats`.
- `ops`: every operation in one namespace, for the adapters.

Only the tables are imported here: the registry names this package as a model module, and
the operations import the registry.
"""

from models.applications.tables import (
    Application,
    ApplicationDraft,
    ApplicationMessage,
    ApplicationState,
    ApplicationType,
    MemberRule,
)

__all__ = [
    "Application",
    "ApplicationDraft",
    "ApplicationMessage",
    "ApplicationState",
    "ApplicationType",
    "MemberRule",
]
