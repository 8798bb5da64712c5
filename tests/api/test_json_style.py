"""Success and error bodies are written in one JSON style: compact, keys in the documented order,
one trailing newline (so a shell prompt does not run onto the JSON after ``curl``)."""

from __future__ import annotations

import json


def _one_compact_line(text: str) -> dict:
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    body = json.loads(text)
    assert text == json.dumps(body, separators=(",", ":")) + "\n"
    return body


def test_a_success_and_an_error_body_share_one_style_ending_with_a_newline(client, secret):
    success = client.post("/codes/generate", headers=secret, json={"amount": 1})
    failure = client.post(
        "/codes/claim", headers=secret, json={"code": "no-such-code", "email": "ada@example.com"}
    )
    assert success.status_code == 200 and failure.status_code == 404
    assert list(_one_compact_line(success.get_data(as_text=True))) == ["success", "data"]
    error = _one_compact_line(failure.get_data(as_text=True))
    assert list(error) == ["success", "code", "error", "message", "time"]
    assert error["error"] == "code_not_found"


def test_bodies_stay_compact_in_debug_mode(app_without_database):
    app_without_database.debug = True  # Flask's own provider would indent here
    response = app_without_database.test_client().get("/nowhere")
    assert response.status_code == 404
    assert _one_compact_line(response.get_data(as_text=True))["error"] == "not_found"
