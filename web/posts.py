"""Hub posts over HTTP (rules in `models.posts`)."""

from __future__ import annotations

from web.api import Router

router = Router("posts")
