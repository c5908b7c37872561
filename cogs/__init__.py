"""One module per plugin: slash commands, views, modals and listeners (thin adapters)."""
