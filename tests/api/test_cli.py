"""The operator CLI: flask --app wsgi projects ..."""

from __future__ import annotations

import json
import re

from tests.api.conftest import bearer

KEY = {"publicKey": r"pk_[0-9a-f]{48}", "secretKey": r"sk_[0-9a-f]{48}"}


def test_create_with_json_prints_one_object_on_the_last_line(runner, client):
    result = runner.invoke(args=["projects", "create", "shop", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output.strip().splitlines()[-1])
    assert set(created) == {"id", "name", "publicKey", "secretKey"}
    assert created["name"] == "shop" and isinstance(created["id"], int)
    for field, pattern in KEY.items():
        assert re.fullmatch(pattern, created[field])
    assert client.get("/codes", headers=bearer(created["secretKey"])).status_code == 200


def test_create_prints_keys_readably_without_json(runner):
    result = runner.invoke(args=["projects", "create", "shop"])
    assert result.exit_code == 0
    assert re.search(r"public key: pk_[0-9a-f]{48}", result.output)
    assert re.search(r"secret key: sk_[0-9a-f]{48}", result.output)


def test_duplicate_or_invalid_names_fail_clearly(runner):
    runner.invoke(args=["projects", "create", "shop"])
    result = runner.invoke(args=["projects", "create", "shop"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(args=["projects", "create", " "])
    assert result.exit_code != 0 and "name" in result.output


def test_list_shows_projects_and_their_code_counts(runner, client):
    created = json.loads(runner.invoke(args=["projects", "create", "shop", "--json"]).output.splitlines()[-1])
    client.post("/codes/generate", json={"amount": 3}, headers=bearer(created["secretKey"]))
    listed = json.loads(runner.invoke(args=["projects", "list", "--json"]).output)
    assert [(p["name"], p["codes"]) for p in listed] == [("shop", 3)]
    assert "shop" in runner.invoke(args=["projects", "list"]).output


def test_rotate_keys_stops_the_old_keys_at_once(runner, client):
    old = json.loads(runner.invoke(args=["projects", "create", "shop", "--json"]).output.splitlines()[-1])
    result = runner.invoke(args=["projects", "rotate-keys", "shop", "--json"])
    assert result.exit_code == 0
    new = json.loads(result.output.strip().splitlines()[-1])
    assert new["id"] == old["id"] and new["secretKey"] != old["secretKey"]
    assert client.get("/codes", headers=bearer(old["secretKey"])).status_code == 401
    assert (
        client.post(
            "/codes/claim", json={"code": "x", "email": "a@example.com"}, headers=bearer(old["publicKey"])
        ).status_code
        == 401
    )
    assert client.get("/codes", headers=bearer(new["secretKey"])).status_code == 200


def test_rotate_keys_of_an_unknown_project_fails(runner):
    result = runner.invoke(args=["projects", "rotate-keys", "ghost"])
    assert result.exit_code != 0 and "ghost" in result.output


def test_demo_creates_the_project_once_and_saves_its_keys(runner, client, tmp_path):
    keys_file = tmp_path / "demo-keys.json"
    first = runner.invoke(args=["projects", "demo", "--keys-file", str(keys_file)])
    assert first.exit_code == 0 and str(keys_file) in first.output
    saved = json.loads(keys_file.read_text())
    assert keys_file.stat().st_mode & 0o077 == 0
    second = runner.invoke(args=["projects", "demo", "--keys-file", str(keys_file)])
    assert second.exit_code == 0 and saved["secretKey"] in second.output
    assert client.get("/codes", headers=bearer(saved["secretKey"])).status_code == 200
    assert len(json.loads(runner.invoke(args=["projects", "list", "--json"]).output)) == 1
