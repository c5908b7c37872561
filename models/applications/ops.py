"""Every applications operation in one namespace, for the adapters:
`from models.applications import ops` then `ops.submit(actor, hub, ...)`."""

from models.applications.common import (
    KEY,
    MANAGE,
    REVIEW,
    application_view,
    may_review,
    message_view,
)
from models.applications.conversation import add_message, message_in, messages
from models.applications.flow import (
    DRAFT_TTL,
    draft_view,
    my_applications,
    save_step,
    start_draft,
    submit,
    submit_draft,
    withdraw,
)
from models.applications.review import (
    assign,
    change_decision,
    claim,
    decide,
    delete_application,
    get_application,
    list_applications,
    record_review_post,
)
from models.applications.stats import statistics
from models.applications.types import (
    all_types,
    check_eligible,
    create_type,
    delete_type,
    form_of,
    get_type,
    open_type_view,
    open_types,
    type_view,
    update_type,
)

__all__ = [
    "DRAFT_TTL",
    "KEY",
    "MANAGE",
    "REVIEW",
    "add_message",
    "all_types",
    "application_view",
    "assign",
    "change_decision",
    "check_eligible",
    "claim",
    "create_type",
    "decide",
    "delete_application",
    "delete_type",
    "draft_view",
    "form_of",
    "get_application",
    "get_type",
    "list_applications",
    "may_review",
    "message_in",
    "message_view",
    "messages",
    "my_applications",
    "open_type_view",
    "open_types",
    "record_review_post",
    "save_step",
    "start_draft",
    "statistics",
    "submit",
    "submit_draft",
    "type_view",
    "update_type",
    "withdraw",
]
