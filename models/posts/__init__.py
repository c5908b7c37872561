"""The hub posts package (core, always on): channel messages from templates.

- `tables`: destinations (a channel or a webhook per trigger) and the messages posted.
- `templates`: `{variable}` templates: checked against a trigger, rendered within
  Discord's limits.
- `schemas`: the inputs and views the API and the bot share.
- `ops`: staff operations, and `emit` / `update_source` / `delete_source`, which other
  packages call inside their own transaction.
- `delivery`: what the bot reads and records while it carries a post out.

Only the tables are imported here: the registry imports this package, and the operations
import the registry.
"""

from models.posts.tables import Audience, PostDestination, PostedMessage, PostState

__all__ = ["Audience", "PostDestination", "PostState", "PostedMessage"]
