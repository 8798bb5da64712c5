"""GET /codes/<code>/deliveries: who was emailed a code, and what became of each message."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.auth import current_key, require_key
from api.extensions import Blueprint, db
from api.render import success
from api.schemas import PageQuerySchema, envelope, page_of
from shared.clock import isoformat_z
from shared.mail import services as mail_services
from shared.models import DELIVERY_STATUSES

blp = Blueprint("deliveries", __name__, url_prefix="/codes", description="Email deliveries of codes.")


class DeliverySchema(Schema):
    email = fields.String(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(DELIVERY_STATUSES),
        metadata={
            "description": "queued -> sending -> sent, or failed, or cancelled. A delivery waiting "
            "for a retry is queued with attempts >= 1 and a later nextAttemptAt."
        },
    )
    attempts = fields.Integer(required=True, metadata={"description": "Sending attempts so far."})
    lastError = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Why the last attempt failed (the mail server's reply when it gave one), "
            "or why the delivery was cancelled."
        },
    )
    nextAttemptAt = fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "date-time", "description": "When a queued delivery is due; null otherwise."},
    )
    sentAt = fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "date-time", "description": "When the mail server accepted the message."},
    )
    createdAt = fields.String(required=True, metadata={"format": "date-time"})


DeliveryPageEnvelope = envelope(
    fields.Nested(page_of(DeliverySchema, "DeliveryPage"), required=True), "DeliveryPageEnvelope"
)


def delivery_json(record: mail_services.DeliveryRecord) -> dict:
    return {
        "email": record.email,
        "status": record.status,
        "attempts": record.attempts,
        "lastError": record.last_error,
        "nextAttemptAt": isoformat_z(record.next_attempt_at),
        "sentAt": isoformat_z(record.sent_at),
        "createdAt": isoformat_z(record.created_at),
    }


@blp.route("/<code>/deliveries")
class CodeDeliveries(MethodView):
    @blp.response(200, DeliveryPageEnvelope)
    @blp.errors(401, 403, 404, 422)
    @require_key()
    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    def get(self, code, limit, cursor):
        """List the email deliveries of a code, newest first

        One item per recipient the code was sent to (POST /codes/send), with the status of its
        message. Cursor pagination like GET /codes.
        """
        page = mail_services.list_deliveries(
            db.session, current_key().project_id, code, limit=limit, cursor=cursor
        )
        return success({"items": [delivery_json(d) for d in page.items], "nextCursor": page.next_cursor})
