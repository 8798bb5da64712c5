"""How every JSON body leaves the API: one style for successes and failures alike.

Flask's documented hook (``app.json``): a ``DefaultJSONProvider`` that stays compact even in debug
mode, keeps keys in the order the schemas document them, and ends each body with a newline (so a
shell prompt starts on its own line after ``curl``).
"""

from __future__ import annotations

from flask.json.provider import DefaultJSONProvider


class ApiJSONProvider(DefaultJSONProvider):
    compact = True  # ``response()`` then writes ``separators=(",", ":")`` and a trailing newline
    sort_keys = False  # {"success": ..., "code": ..., "error": ...} as documented, not alphabetical
