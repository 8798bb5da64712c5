"""Domain errors. Each has a machine-readable ``code`` and a human ``message``.

The front ends translate them: the API by kind into an HTTP status, the bot into a friendly reply.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, code: str | None = None):
        if code is not None:
            self.code = code
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    default_message = "Not found."


class Forbidden(DomainError):
    code = "forbidden"
    default_message = "Not allowed."


class Conflict(DomainError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class InvalidInput(DomainError):
    """Bad input, with the offending fields: ``errors = {"field": ["message", ...]}``."""

    code = "validation_error"
    default_message = "The request is invalid."

    def __init__(self, errors: dict[str, list[str]], message: str | None = None):
        self.errors = errors
        fields = ", ".join(sorted(errors))
        super().__init__(message or f"Invalid value for: {fields}.")


class InvalidCursor(InvalidInput):
    """A page request whose cursor names no position (it was not one we gave out, or was altered)."""

    code = "invalid_cursor"


class Unauthenticated(DomainError):
    code = "unauthorized"
    default_message = "The key is missing, malformed or unknown."


class SecretKeyRequired(Forbidden):
    code = "secret_key_required"
    default_message = "This needs the project's secret key (sk_...); the public key may only claim codes."


class CodeNotFound(NotFound):
    code = "code_not_found"
    default_message = "No code with this value exists."


class TokenNotFound(NotFound):
    code = "token_not_found"
    default_message = "This claim token is unknown, expired or already used."


class ProjectNotFound(NotFound):
    code = "project_not_found"
    default_message = "No project with this name exists."


class PageNotFound(NotFound):
    code = "page_not_found"
    default_message = "No claim page has this address."


class CodeReserved(Forbidden):
    code = "code_reserved"
    default_message = "This code is reserved for another email address."


class CodeAlreadyClaimed(Conflict):
    code = "code_already_claimed"
    default_message = "This code has already been claimed by this claimant."


class CodeNotYetValid(Conflict):
    code = "code_not_yet_valid"
    default_message = "This code cannot be claimed yet."


class CodeExpired(Conflict):
    code = "code_expired"
    default_message = "This code has expired."


class CodeFullyClaimed(Conflict):
    code = "code_fully_claimed"
    default_message = "This code has no claims left."


class CodeSpaceExhausted(Conflict):
    code = "code_space_exhausted"
    default_message = "Not enough unused codes of this type are left for this project."


class ProjectExists(Conflict):
    code = "project_exists"
    default_message = "A project with this name already exists."


class SlugTaken(Conflict):
    code = "slug_taken"
    default_message = "Another project's claim page already has this slug."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with another request."


class RequestInProgress(Conflict):
    code = "request_in_progress"
    default_message = "A request with this Idempotency-Key is still in progress; retry later."


class CodeExists(Conflict):
    """Values that a project has already, or that repeat within one request: ``errors`` names each
    by its position (``{"codes.3": ["..."]}``), like a validation error."""

    code = "code_exists"
    default_message = "Some of these codes exist already."

    def __init__(self, errors: dict[str, list[str]], message: str | None = None):
        self.errors = errors
        super().__init__(message)


class BatchNotFound(NotFound):
    code = "batch_not_found"
    default_message = "This project has no batch with this name."


class BatchExhausted(Conflict):
    code = "batch_exhausted"
    default_message = "Every code of this batch has been handed out, claimed or has expired."


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    default_message = "No webhook endpoint with this id exists in this project."


class WebhookDeliveryNotFound(NotFound):
    code = "delivery_not_found"
    default_message = "No delivery with this id exists for this webhook endpoint."


class WebhookEventNotFound(NotFound):
    code = "event_not_found"
    default_message = "No webhook event with this id exists in this project (events are kept 30 days)."


class TooManyWebhooks(Conflict):
    code = "too_many_webhooks"
    default_message = "This project has as many webhook endpoints as it may have."


class WebhookDisabled(Conflict):
    code = "webhook_disabled"
    default_message = "This webhook endpoint is disabled; enable it first."


class DeliveryInProgress(Conflict):
    code = "delivery_in_progress"
    default_message = "This delivery is being sent right now; retry it once it is settled."
