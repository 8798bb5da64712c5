"""gunicorn settings for both benchmark servers, the API's and the floor's alike.

The harness names this file with ``--config`` so that the project's own ``gunicorn.conf.py`` (JSON
access logs, production worker counts) does not apply to one server and not the other; workers,
worker class and threads come from the harness's command line.
"""

accesslog = None
loglevel = "warning"
keepalive = 2
