"""The runtime: CLI, configuration, the Discord bot, start-up and shut-down."""
