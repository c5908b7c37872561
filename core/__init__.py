"""What every layer uses and no layer owns: configuration, logging and database start-up.

`bot/` (the runtime), `web/` (the API) and the CLI import from here; nothing here imports
them, so the API never depends on the bot (checked by import-linter).
"""
