"""The /webhooks routes: a project's endpoints, their delivery log, and construct."""

from __future__ import annotations

import datetime as dt

from flask import current_app
from flask.views import MethodView

from api.auth import current_key, require_key
from api.extensions import Blueprint, db
from api.render import success
from api.schemas import PageQuerySchema
from api.webhooks.schemas import (
    ConstructedEnvelope,
    DeliveryEnvelope,
    DeliveryPageEnvelope,
    EndpointEnvelope,
    EndpointListEnvelope,
    EndpointWithSecretEnvelope,
    SettingsEnvelope,
    WebhookBodySchema,
    WebhookConstructSchema,
    WebhookSettingsSchema,
    delivery_json,
    endpoint_json,
)
from shared.webhooks import deliveries, endpoints
from shared.webhooks.payloads import constructed

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks",
    description="Your backend hears of codes created, claimed and deleted (docs/webhooks.md).",
)


# Ids are 64-bit: a larger number matches no route (404) instead of overflowing a query.
ID = "int(max=9223372036854775807)"


def _retry_window() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.config["SETTINGS"].webhook_retry_window_seconds)


@blp.route("")
class Webhooks(MethodView):
    @blp.response(200, EndpointListEnvelope)
    @blp.errors(401, 403)
    @require_key()
    def get(self):
        """List the project's webhook endpoints, with their health"""
        return success(
            [endpoint_json(e) for e in endpoints.list_endpoints(db.session, current_key().project_id)]
        )

    @blp.response(200, EndpointWithSecretEnvelope)
    @blp.errors(400, 401, 403, 409, 413, 422)
    @require_key()
    @blp.arguments(WebhookBodySchema)
    def post(self, body):
        """Register a webhook endpoint

        Answers its signing secret (`whsec_...`), this once. The URL must be https on a public
        address (422 otherwise); 409 `too_many_webhooks` past 16 endpoints.
        """
        created = endpoints.add_endpoint(
            db.session,
            current_key().project_id,
            body["url"],
            body["events"],
            allow_private=current_app.config["SETTINGS"].webhooks_allow_private,
        )
        db.session.commit()
        return success(endpoint_json(created.endpoint, created.secret))


@blp.route(f"/<{ID}:endpoint_id>")
class Webhook(MethodView):
    @blp.response(200, EndpointEnvelope)
    @blp.errors(401, 403, 404)
    @require_key()
    def delete(self, endpoint_id):
        """Remove a webhook endpoint, with its delivery log"""
        removed = endpoints.remove_endpoint(db.session, current_key().project_id, endpoint_id)
        db.session.commit()
        return success(endpoint_json(removed))


@blp.route(f"/<{ID}:endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.response(200, EndpointWithSecretEnvelope)
    @blp.errors(401, 403, 404)
    @require_key()
    def post(self, endpoint_id):
        """Issue a new signing secret

        Answers it this once. For 24 hours deliveries are signed with the old secret too (two
        signatures in `webhook-signature`), so receivers can switch without missing one.
        """
        rotated = endpoints.rotate_secret(db.session, current_key().project_id, endpoint_id)
        db.session.commit()
        return success(endpoint_json(rotated.endpoint, rotated.secret))


@blp.route(f"/<{ID}:endpoint_id>/enable")
class Enable(MethodView):
    @blp.response(200, EndpointEnvelope)
    @blp.errors(401, 403, 404)
    @require_key()
    def post(self, endpoint_id):
        """Enable an endpoint that was disabled

        Deliveries that waited for it are sent at once, with a fresh retry window.
        """
        enabled = endpoints.enable_endpoint(
            db.session, current_key().project_id, endpoint_id, retry_window=_retry_window()
        )
        db.session.commit()
        return success(endpoint_json(enabled))


@blp.route(f"/<{ID}:endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.response(200, DeliveryPageEnvelope)
    @blp.errors(401, 403, 404, 422)
    @require_key()
    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    def get(self, endpoint_id, limit, cursor):
        """List an endpoint's deliveries, newest first, each with its attempts

        Cursor pagination like GET /codes.
        """
        page = deliveries.list_deliveries(
            db.session, current_key().project_id, endpoint_id, limit=limit, cursor=cursor
        )
        return success({"items": [delivery_json(d) for d in page.items], "nextCursor": page.next_cursor})


@blp.route(f"/<{ID}:endpoint_id>/deliveries/<{ID}:delivery_id>/retry")
class RetryDelivery(MethodView):
    @blp.response(200, DeliveryEnvelope)
    @blp.errors(401, 403, 404, 409)
    @require_key()
    def post(self, endpoint_id, delivery_id):
        """Send a delivery again (a replay)

        Whatever became of it, it is due at once, with a fresh retry window and the same event
        id. 409 `delivery_in_progress` while it is being sent, `webhook_disabled` for a disabled
        endpoint.
        """
        retried = deliveries.retry_delivery(
            db.session, current_key().project_id, endpoint_id, delivery_id, retry_window=_retry_window()
        )
        db.session.commit()
        return success(delivery_json(retried))


@blp.route("/construct")
class Construct(MethodView):
    @blp.response(200, ConstructedEnvelope)
    @blp.errors(400, 401, 403, 404, 413, 422)
    @require_key()
    @blp.arguments(WebhookConstructSchema)
    def post(self, body):
        """Exchange a webhook's `event` for its data (the mirrored product's construct)

        `{"event": "CODE_CLAIM", "data": {"lead", "code", ...}}` or `{"event": "CODE_CREATION",
        "data": <the first code>, "codes": [...]}`; other events keep their type and data.
        """
        event = deliveries.find_event(db.session, current_key().project_id, body["event"])
        return success(constructed(event))


@blp.route("/settings")
class Settings(MethodView):
    @blp.response(200, SettingsEnvelope)
    @blp.errors(401, 403)
    @require_key()
    def get(self):
        """The project's webhook settings"""
        enabled = endpoints.lancero_signature(db.session, current_key().project_id)
        return success({"lanceroSignature": enabled})

    @blp.response(200, SettingsEnvelope)
    @blp.errors(400, 401, 403, 413, 422)
    @require_key()
    @blp.arguments(WebhookSettingsSchema)
    def put(self, body):
        """Change the project's webhook settings

        `lanceroSignature: false` stops sending the secret itself in `lancero-signature`.
        """
        enabled = endpoints.set_lancero_signature(
            db.session, current_key().project_id, body["lanceroSignature"]
        )
        db.session.commit()
        return success({"lanceroSignature": enabled})
