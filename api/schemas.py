"""Schemas shared by the resources: strict fields, the code object, envelopes and pages.

Request schemas validate; response schemas document (resources serialise with ``api.render``,
which produces exactly these shapes, much faster than a schema dump of 10,000 codes).
"""

from __future__ import annotations

from collections.abc import Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from shared.errors import InvalidInput
from shared.models import CODE_TYPES
from shared.records import CODE_STATUSES
from shared.validation import (
    UNSTORABLE_RULE,
    is_storable,
    normalize_batch,
    normalize_code,
    normalize_email,
    parse_timestamp,
)


def _unstorable_strings(value, name: str, errors: dict[str, list[str]]) -> None:
    """Name every string in ``value`` (a field's value, lists and objects included) holding NUL or
    an unpaired surrogate: no field may store or look up such a string."""
    if isinstance(value, str):
        if not is_storable(value):
            errors[name] = [UNSTORABLE_RULE]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _unstorable_strings(item, f"{name}.{index}", errors)
    elif isinstance(value, dict):
        for key, item in value.items():
            _unstorable_strings(item, f"{name}.{key}", errors)


class StrictSchema(Schema):
    """A request's body or query: unknown fields and unstorable text (NUL, unpaired surrogates,
    in any field, at any depth) are 422 before any field's own rule runs."""

    class Meta:
        unknown = RAISE

    @pre_load
    def refuse_unstorable_text(self, data, **kwargs):
        if isinstance(data, Mapping):
            errors: dict[str, list[str]] = {}
            for name in data:
                values = data.getlist(name) if hasattr(data, "getlist") else [data[name]]
                for value in values:
                    _unstorable_strings(value, name, errors)
            if errors:
                raise ValidationError(errors)
        return data


class StrictInteger(fields.Integer):
    """A JSON integer: no strings, no floats, no booleans."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class _DomainChecked(fields.String):
    """A string field cleaned by a domain rule, so the API and the bot validate alike."""

    rule = staticmethod(lambda value, field: value)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return self.rule(text, attr or "value")
        except InvalidInput as exc:
            raise ValidationError(next(iter(exc.errors.values()))) from None


class Email(_DomainChecked):
    rule = staticmethod(normalize_email)

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("format", "email")
        super().__init__(**kwargs)


class CodeValue(_DomainChecked):
    """A code as a client types it: surrounding whitespace and case are ignored."""

    rule = staticmethod(normalize_code)

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("example", "curious-pineapple")
        super().__init__(**kwargs)


class BatchName(_DomainChecked):
    """A batch name: 1 to 100 letters, digits, spaces, '_', '.' or '-'; compared exactly."""

    rule = staticmethod(normalize_batch)

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("example", "beta-keys")
        super().__init__(**kwargs)


class Timestamp(_DomainChecked):
    """ISO 8601; without an offset, UTC."""

    rule = staticmethod(parse_timestamp)

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("format", "date-time")
        super().__init__(**kwargs)


class ReservedForSchema(Schema):
    email = fields.String(required=True)


class AssignedToSchema(Schema):
    """Whom the code was handed out to from its batch: an email address or a Discord member."""

    email = fields.String(required=True, allow_none=True)
    discordUserId = fields.String(required=True, allow_none=True)
    assignedAt = fields.String(required=True, metadata={"format": "date-time"})


class CodeSchema(Schema):
    """The code object."""

    code = fields.String(required=True, metadata={"example": "curious-pineapple"})
    type = fields.String(required=True, validate=validate.OneOf(CODE_TYPES))
    allowedClaims = fields.Integer(required=True)
    claims = fields.Integer(required=True, metadata={"description": "Claims so far."})
    validFrom = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    validUntil = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    reservedFor = fields.Nested(ReservedForSchema, required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(CODE_STATUSES))
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    updatedAt = fields.String(required=True, metadata={"format": "date-time"})
    batch = fields.String(required=True, allow_none=True, metadata={"example": "beta-keys"})
    assignedTo = fields.Nested(AssignedToSchema, required=True, allow_none=True)


def envelope(data_field: fields.Field, name: str) -> type[Schema]:
    """``{"success": true, "data": <data_field>}`` as a named schema."""
    return Schema.from_dict(
        {"success": fields.Boolean(required=True, metadata={"example": True}), "data": data_field},
        name=name,
    )


def page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "nextCursor": fields.String(required=True, allow_none=True),
        },
        name=name,
    )


class PageQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = fields.String(load_default=None)
