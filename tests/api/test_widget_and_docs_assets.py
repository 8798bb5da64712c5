"""What the service serves as files: the claim widget (/widget.js) and Swagger UI's assets for /docs.

The widget's behaviour in a browser is tested in tests/browser/test_widget.py.
"""

from __future__ import annotations

import gzip
import hashlib
import re

import pytest

from api.pages import messages
from api.pages.widget import WIDGET_VERSION, script
from api.swagger_ui import ASSETS_URL, DIST

# The pinned address /widget/<version>.js is cached for a year by every browser that loaded it:
# its content must never change. Changed the widget (or its sentences)? Bump WIDGET_VERSION in
# api/pages/widget.py and record the new digest here.
PINNED_SHA256 = {"1.0.0": "1bc0ed17617e9135eb15677917e6865a38b13051c1f36dea6ceda93133183d69"}
# Gzipped, the widget stays small.
GZIP_BUDGET_BYTES = 4 * 1024

# Files, not data: SQLite only.
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@sqlite_only
def test_the_widget_is_javascript_with_its_sentences_and_version_filled_in(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "__MESSAGES__" not in body and "__VERSION__" not in body
    assert f'var VERSION = "{WIDGET_VERSION}";' in body
    for sentence in messages.REFUSALS.values():
        assert sentence.replace("'", "\\'") in body or sentence in body
    assert "import " not in body and "require(" not in body, "no dependencies"


@sqlite_only
def test_the_widget_is_cached_for_an_hour_and_revalidated(client):
    first = client.get("/widget.js")
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    etag = first.headers["ETag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


@sqlite_only
def test_the_versioned_address_is_immutable(client):
    response = client.get(f"/widget/{WIDGET_VERSION}.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.data == client.get("/widget.js").data
    assert client.get("/widget/0.0.1.js").status_code == 404


def test_a_changed_widget_gets_a_new_version():
    digest = hashlib.sha256(script().body).hexdigest()
    assert PINNED_SHA256.get(WIDGET_VERSION) == digest, (
        f"widget.js changed: bump WIDGET_VERSION and record {WIDGET_VERSION!r}'s digest {digest} here"
    )


@sqlite_only
def test_the_widget_is_served_gzipped_and_small(client):
    response = client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.data) == client.get("/widget.js").data
    assert response.headers["ETag"] != client.get("/widget.js").headers["ETag"]
    print(f"widget.js: {len(script().body)} bytes, {len(response.data)} gzipped")
    assert len(response.data) <= GZIP_BUDGET_BYTES


@sqlite_only
def test_docs_load_swagger_ui_from_the_service_itself(client):
    page = client.get("/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith(ASSETS_URL) for source in sources), sources
    assert "cdn" not in page and "https://" not in page
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source
            assert asset.data == (DIST / source.removeprefix(ASSETS_URL)).read_bytes()
            assert "max-age=31536000" in asset.headers["Cache-Control"]


@sqlite_only
def test_docs_assets_are_not_rate_limited(make_app):
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_IP="2/minute").test_client()
    for _ in range(5):
        with client.get(ASSETS_URL + "swagger-ui.css") as asset:
            assert asset.status_code == 200
