"""The bot's cogs: ``codes`` (the managers' /codes group) and ``claim`` (the members' /claim)."""
