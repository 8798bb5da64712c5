"""The Flask application class: what it remembers about views and hooks never changes the answer."""

from __future__ import annotations

from flask import Flask


def test_synchronous_functions_and_methods_are_used_as_they_are(app):
    def hook():
        return "ran"

    class View:
        def get(self):
            return "got"

    for _ in range(2):  # the first answer is remembered; the second must be the same
        assert app.ensure_sync(hook) is hook
        method = View().get
        assert app.ensure_sync(method) is method


def test_a_coroutine_function_is_never_taken_for_a_synchronous_one(app, monkeypatch):
    # What Flask's "async" extra would do: wrap it to run in an event loop.
    monkeypatch.setattr(Flask, "async_to_sync", lambda self, func: ("wrapped", func))

    async def view():
        return "async"

    for _ in range(2):  # remembered as asynchronous: wrapped every time
        assert app.ensure_sync(view) == ("wrapped", view)
