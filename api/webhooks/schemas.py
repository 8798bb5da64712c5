"""Bodies and responses of the /webhooks routes, and the domain's records as JSON."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import StrictSchema, envelope, page_of
from shared.clock import isoformat_z
from shared.models import WEBHOOK_DELIVERY_STATUSES
from shared.webhooks.deliveries import DeliveryRecord
from shared.webhooks.endpoints import EndpointRecord
from shared.webhooks.events import EVENT_TYPES

HEALTH = ("healthy", "failing", "disabled")


class StrictBoolean(fields.Boolean):
    """A JSON true or false: no strings, no numbers."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class WebhookBodySchema(StrictSchema):
    url = fields.String(
        required=True,
        metadata={
            "description": "An https URL on a public address.",
            "example": "https://shop.example/hooks/codes",
        },
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        load_default=None,
        validate=validate.Length(min=1),
        metadata={"description": f"What to send: {', '.join(EVENT_TYPES)}. Default: all of them."},
    )


class WebhookSchema(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True)
    enabled = fields.Boolean(required=True)
    health = fields.String(
        required=True,
        validate=validate.OneOf(HEALTH),
        metadata={
            "description": "healthy; failing (its last delivery failed, since failingSince); disabled "
            "(failed for the whole retry window, about three days: POST /webhooks/{id}/enable)."
        },
    )
    failingSince = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    disabledAt = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    createdAt = fields.String(required=True, metadata={"format": "date-time"})


class WebhookWithSecretSchema(WebhookSchema):
    secret = fields.String(
        required=True,
        metadata={"description": "The signing secret (whsec_...). Shown this once: store it now."},
    )


class WebhookAttemptSchema(Schema):
    attempt = fields.Integer(required=True)
    startedAt = fields.String(required=True, metadata={"format": "date-time"})
    durationMs = fields.Integer(required=True)
    statusCode = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True, metadata={"description": "Timed out, refused..."})
    nextAttemptAt = fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "date-time", "description": "When it was retried."},
    )


class WebhookDeliverySchema(Schema):
    id = fields.Integer(required=True)
    eventId = fields.String(required=True, metadata={"description": "The webhook-id receivers saw."})
    eventType = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    status = fields.String(
        required=True,
        validate=validate.OneOf(WEBHOOK_DELIVERY_STATUSES),
        metadata={"description": "pending (due at nextAttemptAt) -> sending -> succeeded, or failed."},
    )
    attempts = fields.Integer(required=True)
    nextAttemptAt = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    lastStatusCode = fields.Integer(required=True, allow_none=True)
    lastError = fields.String(required=True, allow_none=True)
    succeededAt = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    log = fields.List(
        fields.Nested(WebhookAttemptSchema), required=True, metadata={"description": "Every attempt."}
    )


class WebhookConstructSchema(StrictSchema):
    event = fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata={
            "description": "The `event` of a webhook body.",
            "example": "fdbc0cc8-7718-4e4f-a8cb-c969d31b543e",
        },
    )


class WebhookConstructedSchema(Schema):
    event = fields.String(
        required=True, metadata={"description": "CODE_CLAIM, CODE_CREATION, or our type for the others."}
    )
    data = fields.Dict(required=True)
    codes = fields.List(fields.Dict(), metadata={"description": "CODE_CREATION: every code of the request."})


class WebhookSettingsSchema(StrictSchema):
    lanceroSignature = StrictBoolean(
        required=True,
        metadata={
            "description": "Whether deliveries also carry the endpoint's secret itself in a "
            "lancero-signature header, as the mirrored product does (weaker than webhook-signature)."
        },
    )


EndpointEnvelope = envelope(fields.Nested(WebhookSchema, required=True), "WebhookEnvelope")
EndpointWithSecretEnvelope = envelope(
    fields.Nested(WebhookWithSecretSchema, required=True), "WebhookWithSecretEnvelope"
)
EndpointListEnvelope = envelope(
    fields.List(fields.Nested(WebhookSchema), required=True), "WebhookListEnvelope"
)
DeliveryEnvelope = envelope(fields.Nested(WebhookDeliverySchema, required=True), "WebhookDeliveryEnvelope")
DeliveryPageEnvelope = envelope(
    fields.Nested(page_of(WebhookDeliverySchema, "WebhookDeliveryPage"), required=True),
    "WebhookDeliveryPageEnvelope",
)
ConstructedEnvelope = envelope(fields.Nested(WebhookConstructedSchema, required=True), "ConstructedEnvelope")
SettingsEnvelope = envelope(fields.Nested(WebhookSettingsSchema, required=True), "WebhookSettingsEnvelope")


def endpoint_json(record: EndpointRecord, secret: str | None = None) -> dict:
    body = {
        "id": record.id,
        "url": record.url,
        "events": record.events,
        "enabled": record.enabled,
        "health": record.health,
        "failingSince": isoformat_z(record.failing_since),
        "disabledAt": isoformat_z(record.disabled_at),
        "createdAt": isoformat_z(record.created_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def delivery_json(record: DeliveryRecord) -> dict:
    return {
        "id": record.id,
        "eventId": record.event_id,
        "eventType": record.event_type,
        "status": record.status,
        "attempts": record.attempts,
        "nextAttemptAt": isoformat_z(record.next_attempt_at),
        "lastStatusCode": record.last_status_code,
        "lastError": record.last_error,
        "succeededAt": isoformat_z(record.succeeded_at),
        "createdAt": isoformat_z(record.created_at),
        "log": [
            {
                "attempt": attempt.attempt,
                "startedAt": isoformat_z(attempt.started_at),
                "durationMs": attempt.duration_ms,
                "statusCode": attempt.status_code,
                "error": attempt.error,
                "nextAttemptAt": isoformat_z(attempt.next_attempt_at),
            }
            for attempt in record.log
        ],
    }
