"""POST /claims/exchange: a backend verifies the token a page got from a claim."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from api.auth import current_key, require_key
from api.extensions import Blueprint, db
from api.render import code_json, success
from api.schemas import CodeSchema, StrictSchema, envelope
from shared import codes
from shared.clock import isoformat_z

blp = Blueprint("claims", __name__, url_prefix="/claims", description="Verify claims made from a page.")


class ExchangeSchema(StrictSchema):
    token = fields.String(required=True, metadata={"description": "The token the claim returned."})


class LeadSchema(Schema):
    email = fields.String(required=True, allow_none=True)
    discordUserId = fields.String(allow_none=True)


class ExchangedSchema(Schema):
    lead = fields.Nested(LeadSchema, required=True)
    customer = fields.Nested(LeadSchema, required=True, metadata={"description": "The same as lead."})
    code = fields.Nested(CodeSchema, required=True)
    claimedAt = fields.String(required=True, metadata={"format": "date-time"})


ExchangedEnvelope = envelope(fields.Nested(ExchangedSchema, required=True), "ExchangedEnvelope")


@blp.route("/exchange")
class Exchange(MethodView):
    @blp.response(200, ExchangedEnvelope)
    @blp.errors(400, 401, 403, 404, 413, 422)
    @require_key()
    @blp.arguments(ExchangeSchema)
    def post(self, body):
        """Verify a claim token

        Once, within 60 seconds of the claim, for the project that made it; afterwards 404
        `token_not_found`.
        """
        result = codes.exchange_token(db.session, current_key().project_id, body["token"])
        db.session.commit()
        lead = {"email": result.email}
        if result.discord_user_id is not None:
            lead["discordUserId"] = str(result.discord_user_id)
        return success(
            {
                "lead": lead,
                "customer": dict(lead),
                "code": code_json(result.code),
                "claimedAt": isoformat_z(result.claimed_at),
            }
        )
