"""The app the browser tests' gunicorn serves: wsgi.py's, with its rate-limit counters in Redis
under a prefix of this test run's own, so parallel runs never share them."""

from __future__ import annotations

import os

from api import create_app

app = create_app({"RATELIMIT_KEY_PREFIX": os.environ["BROWSER_TESTS_RATELIMIT_PREFIX"]})
