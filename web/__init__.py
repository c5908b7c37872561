"""The HTTP API: an aiohttp application serving `/api/v1`."""
