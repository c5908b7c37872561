"""Notifications over HTTP (rules in `models.notifications`)."""

from __future__ import annotations

from web.api import Router

router = Router("notifications")
