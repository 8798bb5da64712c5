"""The /codes routes: translate HTTP to domain calls and domain results to the envelope."""

from __future__ import annotations

from flask.views import MethodView

from api.auth import current_key, require_key
from api.codes.schemas import (
    ClaimedEnvelope,
    ClaimPageEnvelope,
    ClaimSchema,
    CodeBodySchema,
    CodeEnvelope,
    CodeListEnvelope,
    CodePageEnvelope,
    GenerateSchema,
    ListCodesQuerySchema,
    SendSchema,
    SentEnvelope,
)
from api.extensions import Blueprint, db
from api.idempotency import idempotent
from api.render import claim_json, code_json, success
from api.schemas import PageQuerySchema
from shared import codes
from shared.clock import isoformat_z, utcnow

blp = Blueprint("codes", __name__, url_prefix="/codes", description="Generate, claim, send and delete codes.")


@blp.route("")
class Codes(MethodView):
    @blp.response(200, CodePageEnvelope)
    @blp.errors(401, 403, 422)
    @require_key()
    @blp.arguments(ListCodesQuerySchema, location="query", as_kwargs=True)
    def get(self, limit, cursor, type=None, status=None, reservedFor=None):
        """List codes, newest first

        Cursor pagination: pass `nextCursor` of one page as `cursor` to get the next.
        """
        page = codes.list_codes(
            db.session,
            current_key().project_id,
            limit=limit,
            cursor=cursor,
            code_type=type,
            status=status,
            reserved_for=reservedFor,
        )
        now = utcnow()
        return success({"items": [code_json(c, now) for c in page.items], "nextCursor": page.next_cursor})


@blp.route("/<code>")
@blp.route("/code/<code>", endpoint="CodeAlias")
class CodeItem(MethodView):
    @blp.response(200, CodeEnvelope)
    @blp.errors(401, 403, 404)
    @require_key()
    def get(self, code):
        """Find a code

        `/codes/code/{code}` is an alias that the Node SDK calls. Whitespace and case are ignored.
        """
        return success(code_json(codes.get_code(db.session, current_key().project_id, code)))


@blp.route("/<code>/claims")
class CodeClaims(MethodView):
    @blp.response(200, ClaimPageEnvelope)
    @blp.errors(401, 403, 404, 422)
    @require_key()
    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    def get(self, code, limit, cursor):
        """List who claimed a code, newest first"""
        page = codes.list_claims(db.session, current_key().project_id, code, limit=limit, cursor=cursor)
        return success({"items": [claim_json(c) for c in page.items], "nextCursor": page.next_cursor})


@blp.route("/generate")
class Generate(MethodView):
    @blp.response(200, CodeListEnvelope)
    @blp.errors(400, 401, 403, 409, 413, 422)
    @require_key()
    @blp.arguments(GenerateSchema)
    @idempotent
    def post(self, body):
        """Generate codes

        All `amount` codes are created, or none (409 `code_space_exhausted` when the unused codes
        of the type cannot hold them).
        """
        created = codes.generate_codes(
            db.session,
            current_key().project_id,
            amount=body["amount"],
            code_type=body["type"],
            allowed_claims=body["allowedClaims"],
            valid_from=body["validFrom"],
            valid_until=body["validUntil"],
            reserved_for=body["reservedFor"],
        )
        db.session.commit()
        now = utcnow()
        return success([code_json(c, now) for c in created])


@blp.route("/claim")
class ClaimCode(MethodView):
    @blp.response(200, ClaimedEnvelope)
    @blp.errors(400, 401, 403, 404, 409, 413, 422)
    @require_key(public_ok=True)
    @blp.arguments(ClaimSchema)
    @idempotent
    def post(self, body):
        """Claim a code

        Works with the public key. Refusals, in this order: 404 `code_not_found`, 403
        `code_reserved`, 409 `code_already_claimed`, `code_not_yet_valid`, `code_expired`,
        `code_fully_claimed`.
        """
        result = codes.claim_code(db.session, current_key().project_id, body["code"], email=body["email"])
        db.session.commit()
        return success(
            {
                "token": result.token,
                "code": code_json(result.code, result.claimed_at),
                "email": result.email,
                "claimedAt": isoformat_z(result.claimed_at),
            }
        )


@blp.route("/send")
class Send(MethodView):
    @blp.response(200, SentEnvelope)
    @blp.errors(400, 401, 403, 404, 409, 413, 422)
    @require_key()
    @blp.arguments(SendSchema)
    @idempotent
    def post(self, body):
        """Send a code to leads by email

        Queues one delivery per recipient who could claim the code; the others are skipped with a
        reason. A code that is not yet valid may be sent; an expired or fully claimed one may not.
        """
        result = codes.send_code(db.session, current_key().project_id, body["code"], body["emails"])
        db.session.commit()
        return success(
            {
                "receivedLeads": result.received,
                "notifiedLeads": result.notified,
                "skipped": [{"email": s.email, "reason": s.reason} for s in result.skipped],
            }
        )


@blp.route("/delete")
class Delete(MethodView):
    def _delete(self, body):
        result = codes.delete_code(db.session, current_key().project_id, body["code"])
        db.session.commit()
        return success(code_json(result.code))

    @blp.response(200, CodeEnvelope)
    @blp.errors(400, 401, 403, 404, 409, 413, 422)
    @require_key()
    @blp.arguments(CodeBodySchema)
    @idempotent
    def post(self, body):
        """Delete a code

        Permanent: its claims and unsent deliveries go with it. Answers the code as it was.
        """
        return self._delete(body)

    @blp.response(200, CodeEnvelope)
    @blp.errors(400, 401, 403, 404, 409, 413, 422)
    @require_key()
    @blp.arguments(CodeBodySchema)
    @idempotent
    def delete(self, body):
        """Delete a code (the method the Node SDK sends)"""
        return self._delete(body)
