"""GET /batches: a project's batches, with how far their codes went."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from api.auth import current_key, require_key
from api.extensions import Blueprint, db
from api.render import success
from api.schemas import PageQuerySchema, envelope, page_of
from shared import codes
from shared.records import BatchRecord

blp = Blueprint(
    "batches",
    __name__,
    url_prefix="/batches",
    description="Batches: named groups of codes, and their counts.",
)


class BatchSchema(Schema):
    name = fields.String(required=True, metadata={"example": "beta-keys"})
    total = fields.Integer(required=True, metadata={"description": "Codes in the batch."})
    unclaimed = fields.Integer(required=True, metadata={"description": "Codes nobody has claimed."})
    assigned = fields.Integer(
        required=True, metadata={"description": "Codes handed out (POST /codes/assign, a hand-out panel)."}
    )
    claimed = fields.Integer(required=True, metadata={"description": "Codes claimed at least once."})
    available = fields.Integer(
        required=True,
        metadata={
            "description": "Codes POST /codes/assign can still hand out: unassigned, unreserved, "
            "unclaimed, not expired."
        },
    )


BatchEnvelope = envelope(fields.Nested(BatchSchema, required=True), "BatchEnvelope")
BatchPageEnvelope = envelope(
    fields.Nested(page_of(BatchSchema, "BatchPage"), required=True), "BatchPageEnvelope"
)


def batch_json(batch: BatchRecord) -> dict:
    return {
        "name": batch.name,
        "total": batch.total,
        "unclaimed": batch.unclaimed,
        "assigned": batch.assigned,
        "claimed": batch.claimed,
        "available": batch.available,
    }


@blp.route("")
class Batches(MethodView):
    @blp.response(200, BatchPageEnvelope)
    @blp.errors(401, 403, 422)
    @require_key()
    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    def get(self, limit, cursor):
        """List batches by name, with their counts

        A batch exists while codes carry its name (generate or import with `batch`).
        """
        page = codes.list_batches(db.session, current_key().project_id, limit=limit, cursor=cursor)
        return success({"items": [batch_json(b) for b in page.items], "nextCursor": page.next_cursor})


@blp.route("/<batch>")
class BatchItem(MethodView):
    @blp.response(200, BatchEnvelope)
    @blp.errors(401, 403, 404, 422)
    @require_key()
    def get(self, batch):
        """One batch with its counts

        404 `batch_not_found` when no code carries the name.
        """
        return success(batch_json(codes.get_batch(db.session, current_key().project_id, batch)))
