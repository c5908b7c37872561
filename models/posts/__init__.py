"""The hub posts package (core, always on): channel messages from templates."""
