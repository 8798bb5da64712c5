"""Bodies, queries and responses of the /codes routes."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.errors import api_field_name
from api.schemas import (
    CodeSchema,
    CodeValue,
    Email,
    PageQuerySchema,
    StrictInteger,
    StrictSchema,
    Timestamp,
    envelope,
    page_of,
)
from shared.clock import utcnow
from shared.models import CODE_TYPES
from shared.records import CODE_STATUSES
from shared.validation import MAX_ALLOWED_CLAIMS, MAX_GENERATE, MAX_SEND, window_errors


class GenerateSchema(StrictSchema):
    amount = StrictInteger(
        required=True,
        validate=validate.Range(1, MAX_GENERATE),
        metadata={"description": "How many codes to create, 1 to 10000."},
    )
    validFrom = Timestamp(
        load_default=None,
        allow_none=True,
        metadata={"description": "Claims allowed from then on (may be in the past)."},
    )
    validUntil = Timestamp(
        load_default=None,
        allow_none=True,
        metadata={"description": "Claims allowed until then; after validFrom and in the future."},
    )
    allowedClaims = StrictInteger(
        load_default=1,
        validate=validate.Range(1, MAX_ALLOWED_CLAIMS),
        metadata={"description": "How many claimants each code admits."},
    )
    reservedFor = Email(
        load_default=None,
        allow_none=True,
        metadata={"description": "Only this email address may claim the codes."},
    )
    type = fields.String(
        load_default="creative",
        validate=validate.OneOf(CODE_TYPES),
        metadata={"description": "creative (curious-pineapple), alphanumeric or numeric."},
    )

    @validates_schema(skip_on_field_errors=False)
    def check_window(self, data, **kwargs):
        errors = window_errors(data.get("validFrom"), data.get("validUntil"), utcnow())
        if errors:
            raise ValidationError(errors["valid_until"], api_field_name("valid_until"))


class ClaimSchema(StrictSchema):
    code = CodeValue(required=True)
    email = Email(required=True, metadata={"example": "hello@lancero.app"})


class SendSchema(StrictSchema):
    code = CodeValue(required=True)
    emails = fields.List(
        Email(),
        required=True,
        validate=validate.Length(1, MAX_SEND),
        metadata={"description": "1 to 1000 addresses; duplicates count once."},
    )


class CodeBodySchema(StrictSchema):
    code = CodeValue(required=True)


class ListCodesQuerySchema(PageQuerySchema):
    type = fields.String(validate=validate.OneOf(CODE_TYPES))
    status = fields.String(validate=validate.OneOf(CODE_STATUSES))
    reservedFor = Email()


class ClaimedSchema(Schema):
    token = fields.String(
        required=True,
        metadata={
            "description": "Hand it to your backend: POST /claims/exchange verifies the claim once, "
            "within 60 seconds."
        },
    )
    code = fields.Nested(CodeSchema, required=True)
    email = fields.String(required=True, allow_none=True)
    claimedAt = fields.String(required=True, metadata={"format": "date-time"})


class SkippedSchema(Schema):
    email = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(["code_reserved", "code_already_claimed"]))


class SentSchema(Schema):
    receivedLeads = fields.Integer(required=True)
    notifiedLeads = fields.Integer(required=True)
    skipped = fields.List(fields.Nested(SkippedSchema), required=True)


class ClaimItemSchema(Schema):
    email = fields.String(required=True, allow_none=True)
    discordUserId = fields.String(required=True, allow_none=True)
    claimedAt = fields.String(required=True, metadata={"format": "date-time"})


CodeEnvelope = envelope(fields.Nested(CodeSchema, required=True), "CodeEnvelope")
CodeListEnvelope = envelope(fields.List(fields.Nested(CodeSchema), required=True), "CodeListEnvelope")
ClaimedEnvelope = envelope(fields.Nested(ClaimedSchema, required=True), "ClaimedEnvelope")
SentEnvelope = envelope(fields.Nested(SentSchema, required=True), "SentEnvelope")
CodePageEnvelope = envelope(fields.Nested(page_of(CodeSchema, "CodePage"), required=True), "CodePageEnvelope")
ClaimPageEnvelope = envelope(
    fields.Nested(page_of(ClaimItemSchema, "ClaimPage"), required=True), "ClaimPageEnvelope"
)
