"""Bodies, queries and responses of the /codes routes."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.errors import api_field_name
from api.schemas import (
    BatchName,
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
from shared.models import CODE_TYPES, GENERATED_TYPES
from shared.records import CODE_STATUSES
from shared.validation import (
    CUSTOM_CODE_RULE,
    MAX_ALLOWED_CLAIMS,
    MAX_GENERATE,
    MAX_IMPORT,
    MAX_SEND,
    window_errors,
)


class NewCodesSchema(StrictSchema):
    """The settings new codes share, generated or imported."""

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
    batch = BatchName(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The batch the codes join: GET /batches counts its codes, POST "
            "/codes/assign hands them out."
        },
    )

    @validates_schema(skip_on_field_errors=False)
    def check_window(self, data, **kwargs):
        errors = window_errors(data.get("validFrom"), data.get("validUntil"), utcnow())
        if errors:
            raise ValidationError(errors["valid_until"], api_field_name("valid_until"))


class GenerateSchema(NewCodesSchema):
    amount = StrictInteger(
        required=True,
        validate=validate.Range(1, MAX_GENERATE),
        metadata={"description": "How many codes to create, 1 to 10000."},
    )
    reservedFor = Email(
        load_default=None,
        allow_none=True,
        metadata={"description": "Only this email address may claim the codes."},
    )
    type = fields.String(
        load_default="creative",
        validate=validate.OneOf(GENERATED_TYPES),
        metadata={"description": "creative (curious-pineapple), alphanumeric or numeric."},
    )


class ImportSchema(NewCodesSchema):
    codes = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(1, MAX_IMPORT),
        metadata={
            "description": f"1 to {MAX_IMPORT} values, stored trimmed and lowercased as type custom. "
            + CUSTOM_CODE_RULE.replace("Must be", "Each must be")
        },
    )
    skipExisting = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Import the values that are new and report the others, instead of refusing "
            "the whole request with 409 code_exists."
        },
    )


class AssignSchema(StrictSchema):
    batch = BatchName(required=True)
    email = Email(required=True, metadata={"example": "hello@lancero.app"})


class ClaimSchema(StrictSchema):
    code = CodeValue(required=True)
    email = Email(required=True, metadata={"example": "hello@lancero.app"})


class SendSchema(StrictSchema):
    code = CodeValue(metadata={"description": "The code to send to every address (or give batch)."})
    batch = BatchName(
        metadata={
            "description": "Instead of code: hand each address one code of this batch (as POST "
            "/codes/assign does) and send it that code."
        }
    )
    emails = fields.List(
        Email(),
        required=True,
        validate=validate.Length(1, MAX_SEND),
        metadata={"description": "1 to 1000 addresses; duplicates count once."},
    )

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def code_or_batch(self, _data, original, **kwargs):
        given = [name for name in ("code", "batch") if isinstance(original, dict) and name in original]
        if not given:
            raise ValidationError("Missing data for required field.", "code")
        if len(given) == 2:
            raise ValidationError("Give either code or batch, not both.", "batch")


class CodeBodySchema(StrictSchema):
    code = CodeValue(required=True)


class CodeFiltersSchema(StrictSchema):
    type = fields.String(validate=validate.OneOf(CODE_TYPES))
    status = fields.String(validate=validate.OneOf(CODE_STATUSES))
    reservedFor = Email()
    batch = BatchName()


class ListCodesQuerySchema(PageQuerySchema, CodeFiltersSchema):
    pass


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
    reason = fields.String(
        required=True,
        validate=validate.OneOf(["code_reserved", "code_already_claimed", "already_sent", "batch_exhausted"]),
        metadata={
            "description": "code_reserved, code_already_claimed (one code); already_sent, batch_exhausted "
            "(a batch: this address's code was sent before; the batch ran out)."
        },
    )


class SkippedCodeSchema(Schema):
    code = fields.String(required=True)
    reason = fields.String(
        required=True,
        validate=validate.OneOf(["code_exists", "duplicate"]),
        metadata={"description": "code_exists: the project has it; duplicate: it came earlier in the list."},
    )


class ImportedSchema(Schema):
    imported = fields.Integer(required=True, metadata={"description": "How many codes were created."})
    skipped = fields.List(fields.Nested(SkippedCodeSchema), required=True)


class AssignedSchema(Schema):
    code = fields.Nested(CodeSchema, required=True)
    new = fields.Boolean(
        required=True, metadata={"description": "False when this email had been given this code before."}
    )


class SentSchema(Schema):
    receivedLeads = fields.Integer(required=True)
    notifiedLeads = fields.Integer(required=True)
    skipped = fields.List(fields.Nested(SkippedSchema), required=True)


class ClaimItemSchema(Schema):
    email = fields.String(required=True, allow_none=True)
    discordUserId = fields.String(required=True, allow_none=True)
    claimedAt = fields.String(required=True, metadata={"format": "date-time"})


ImportedEnvelope = envelope(fields.Nested(ImportedSchema, required=True), "ImportedEnvelope")
AssignedEnvelope = envelope(fields.Nested(AssignedSchema, required=True), "AssignedEnvelope")
CodeEnvelope = envelope(fields.Nested(CodeSchema, required=True), "CodeEnvelope")
CodeListEnvelope = envelope(fields.List(fields.Nested(CodeSchema), required=True), "CodeListEnvelope")
ClaimedEnvelope = envelope(fields.Nested(ClaimedSchema, required=True), "ClaimedEnvelope")
SentEnvelope = envelope(fields.Nested(SentSchema, required=True), "SentEnvelope")
CodePageEnvelope = envelope(fields.Nested(page_of(CodeSchema, "CodePage"), required=True), "CodePageEnvelope")
ClaimPageEnvelope = envelope(
    fields.Nested(page_of(ClaimItemSchema, "ClaimPage"), required=True), "ClaimPageEnvelope"
)
