"""The JSON body shortcut (api.errors._plain_loader) answers exactly as marshmallow's load does."""

from __future__ import annotations

import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from api.claims.resources import ExchangeSchema
from api.codes.schemas import ClaimSchema, CodeBodySchema, GenerateSchema, SendSchema
from api.errors import _plain_loader

SHORTCUT_SCHEMAS = [ClaimSchema(), SendSchema(), CodeBodySchema(), ExchangeSchema()]

_TEXT = st.one_of(
    st.sampled_from(
        ["ada@example.com", " Ada@Example.COM ", "bad", "", "  ", "curious-pineapple", "x" * 300]
    ),
    st.text(max_size=12),
)
_VALUE = st.one_of(
    _TEXT,
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.lists(_TEXT, max_size=3),
    st.dictionaries(st.text(max_size=3), _TEXT, max_size=2),
)


def bodies(schema):
    keys = [field.data_key or name for name, field in schema.load_fields.items()]
    return st.dictionaries(st.sampled_from([*keys, "extra"]), _VALUE, max_size=len(keys) + 1)


def loaded_or_errors(schema, body):
    try:
        return schema.load(body)
    except ValidationError as error:
        return ("errors", error.messages)


@pytest.mark.parametrize("schema", SHORTCUT_SCHEMAS, ids=lambda schema: type(schema).__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_shortcut_gives_what_load_gives_or_leaves_the_body_to_load(schema, data):
    body = data.draw(bodies(schema))
    shortcut = _plain_loader(schema)(body)
    expected = loaded_or_errors(schema, body)
    if shortcut is not None:
        assert shortcut == expected
    elif body.keys() == {field.data_key or name for name, field in schema.load_fields.items()}:
        # An exact body is left to load only when load refuses it.
        assert expected[0] == "errors"


def test_the_usual_claim_body_takes_the_shortcut():
    body = {"code": " Curious-Pineapple ", "email": "Ada@Example.com"}
    assert _plain_loader(ClaimSchema())(body) == {"code": "curious-pineapple", "email": "ada@example.com"}


def test_schemas_with_hooks_or_defaults_have_no_shortcut():
    # generate validates its window across fields and fills in defaults: always load.
    assert _plain_loader(GenerateSchema()) is False


def test_the_api_answers_alike_with_and_without_the_shortcut(client, public, generate, monkeypatch):
    (code,) = generate(allowedClaims=3)
    bodies = [
        {"code": code["code"], "email": "a@example.com"},
        {"code": code["code"], "email": "not-an-email"},
        {"code": code["code"]},
        {"code": code["code"], "email": "b@example.com", "extra": True},
        {"code": 7, "email": "c@example.com"},
    ]
    with_shortcut = [client.post("/codes/claim", json=body, headers=public) for body in bodies]
    monkeypatch.setattr("api.errors._plain_loader", lambda schema: False)
    monkeypatch.setattr("api.errors._plain_loaders", weakref.WeakKeyDictionary())
    without = [client.post("/codes/claim", json=body, headers=public) for body in bodies]
    assert [r.status_code for r in with_shortcut] == [200, 422, 422, 422, 422]
    assert [r.status_code for r in without] == [409, 422, 422, 422, 422]  # a@ has claimed already
    for mine, theirs in zip(with_shortcut[1:], without[1:], strict=True):
        assert mine.get_json()["errors"] == theirs.get_json()["errors"]
