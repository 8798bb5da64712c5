"""The codes domain: models, services and errors shared by the REST API and the Discord bot.

Nothing in this package imports Flask or discord.py.
"""
