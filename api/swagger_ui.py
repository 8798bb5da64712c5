"""Swagger UI's files for ``/docs``, served by the service itself: no CDN, so the docs work offline.

They come from the pinned ``flask-swagger-ui`` package (its ``dist`` folder is swagger-ui's own
build; only the files are used, not its blueprint). The address carries the version, so the
files are cached for a year and an upgrade changes the address.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint

PACKAGE_VERSION = version("flask-swagger-ui")
ASSETS_PATH = f"/docs/assets/{PACKAGE_VERSION}"
ASSETS_URL = ASSETS_PATH + "/"  # flask-smorest's OPENAPI_SWAGGER_UI_URL: a base its file names follow
DIST = Path(flask_swagger_ui.__file__).with_name("dist")
MAX_AGE = 365 * 24 * 3600


class _AssetsBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int:
        return MAX_AGE


# A blueprint's static route: Flask serves the files (conditional requests included), and the
# rate limits skip static endpoints.
blp = _AssetsBlueprint("swagger_ui", __name__, static_folder=str(DIST), static_url_path=ASSETS_PATH)
