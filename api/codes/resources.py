"""The /codes routes: translate HTTP to domain calls and domain results to the envelope."""

from __future__ import annotations

from flask.views import MethodView

from api.auth import current_key, require_key
from api.codes.schemas import (
    AssignedEnvelope,
    AssignSchema,
    ClaimedEnvelope,
    ClaimPageEnvelope,
    ClaimSchema,
    CodeBodySchema,
    CodeEnvelope,
    CodeFiltersSchema,
    CodeListEnvelope,
    CodePageEnvelope,
    GenerateSchema,
    ImportedEnvelope,
    ImportSchema,
    ListCodesQuerySchema,
    SendSchema,
    SentEnvelope,
)
from api.extensions import Blueprint, db
from api.idempotency import idempotent
from api.render import claim_json, code_json, csv_download, success
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
    def get(self, limit, cursor, type=None, status=None, reservedFor=None, batch=None):
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
            batch=batch,
        )
        now = utcnow()
        return success({"items": [code_json(c, now) for c in page.items], "nextCursor": page.next_cursor})


_CSV_DOC = {
    "200": {
        "description": "A CSV file (a header row, then one row per item), streamed.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@blp.route("/export.csv")
class CodesExport(MethodView):
    @blp.doc(responses=_CSV_DOC)
    @blp.errors(401, 403, 422)
    @require_key()
    @blp.arguments(CodeFiltersSchema, location="query", as_kwargs=True)
    def get(self, type=None, status=None, reservedFor=None, batch=None):
        """Export codes as CSV, oldest first

        Every code the filters of `GET /codes` select, streamed: any number of rows in constant
        memory. Columns: code, type, status, allowedClaims, claims, validFrom, validUntil,
        reservedFor, batch, assignedEmail, assignedDiscordUserId, assignedAt, createdAt.
        """
        chunks = codes.codes_csv(
            db.session,
            current_key().project_id,
            code_type=type,
            status=status,
            reserved_for=reservedFor,
            batch=batch,
        )
        return csv_download(chunks, "codes.csv")


@blp.route("/<code>")
@blp.route("/code/<code>", endpoint="CodeAlias")
class CodeItem(MethodView):
    @blp.response(200, CodeEnvelope)
    @blp.errors(401, 403, 404, 422)
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


@blp.route("/<code>/claims.csv")
class CodeClaimsExport(MethodView):
    @blp.doc(responses=_CSV_DOC)
    @blp.errors(401, 403, 404, 422)
    @require_key()
    def get(self, code):
        """Export who claimed a code as CSV, oldest first

        Streamed. Columns: code, email, discordUserId, claimedAt.
        """
        chunks = codes.claims_csv(db.session, current_key().project_id, code=code)
        return csv_download(chunks, "claims.csv")


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
            batch=body["batch"],
        )
        db.session.commit()
        now = utcnow()
        return success([code_json(c, now) for c in created])


@blp.route("/import")
class Import(MethodView):
    @blp.response(200, ImportedEnvelope)
    @blp.errors(400, 401, 403, 409, 413, 422)
    @require_key()
    @blp.arguments(ImportSchema)
    @idempotent
    def post(self, body):
        """Import codes you already have

        Up to 10000 values, created as type `custom` with the settings given, all or none: a
        value the project has already, or one repeated in the list (after trimming and
        lowercasing), is 409 `code_exists` with `errors` naming each by position, unless
        `skipExisting` imports the others and reports them in `skipped`.
        """
        result = codes.import_codes(
            db.session,
            current_key().project_id,
            body["codes"],
            allowed_claims=body["allowedClaims"],
            valid_from=body["validFrom"],
            valid_until=body["validUntil"],
            batch=body["batch"],
            skip_existing=body["skipExisting"],
        )
        db.session.commit()
        return success(
            {
                "imported": result.imported,
                "skipped": [{"code": s.code, "reason": s.reason} for s in result.skipped],
            }
        )


@blp.route("/assign")
class Assign(MethodView):
    @blp.response(200, AssignedEnvelope)
    @blp.errors(400, 401, 403, 404, 409, 413, 422)
    @require_key()
    @blp.arguments(AssignSchema)
    def post(self, body):
        """Hand out one code of a batch to an email address

        The code is reserved for the address (only it can claim it). The same address asking
        again gets the same code (`new`: false): one code per address per batch, under any
        concurrency. 404 `batch_not_found`; 409 `batch_exhausted` when no code is left to hand
        out (every one assigned, reserved, claimed or expired).
        """
        result = codes.assign_code(db.session, current_key().project_id, body["batch"], email=body["email"])
        db.session.commit()
        return success({"code": code_json(result.code), "new": result.new})


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
        With `batch` instead of `code`, each recipient is handed one code of the batch (their own
        if they had one) and sent it; skipped: `already_sent`, and `batch_exhausted` once it runs
        out.
        """
        project_id = current_key().project_id
        if "batch" in body:
            result = codes.send_from_batch(db.session, project_id, body["batch"], body["emails"])
        else:
            result = codes.send_code(db.session, project_id, body["code"], body["emails"])
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
