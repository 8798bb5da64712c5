"""The hosted claim page: ``GET``/``POST /p/<slug>`` and ``GET /p/<slug>/claimed``.

Server-rendered, so it works without JavaScript. A POST checks its CSRF token (Flask-WTF), then
claims through the same domain call as the API (``shared.codes.claim_code``) and through the same
rate limits and anti-guessing counters (``api.limits.limit_as_claims``). A refusal renders the
form again with a sentence (``api.pages.messages``) and what the person typed. A claim ends on a
303: to the project's redirect URL with ``claim_token``, or to the page's own success page.
Keys never appear in the page: the project is found by its slug.
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from wtforms import StringField

from api import limits
from api.extensions import db
from api.pages import messages
from shared import codes, errors, pages
from shared.pages import ClaimPage
from shared.validation import normalize_code, normalize_email

log = logging.getLogger(__name__)

blp = Blueprint("pages", __name__, url_prefix="/p")

# The endpoint the rate limits count as a claim (api.pages.init_app registers it).
CLAIM_ENDPOINT = "pages.claim"
CLAIMED = "claimed"  # the session's record of the last claim, for the success page
STATUS_BY_KIND = ((errors.NotFound, 404), (errors.Forbidden, 403), (errors.Conflict, 409))


class ClaimForm(FlaskForm):
    """The form's fields; Flask-WTF adds and checks ``csrf_token``. The domain checks the rest."""

    code = StringField()
    email = StringField()


def current_page(slug: str) -> ClaimPage:
    """The page of ``slug``, looked up once per request (the rate limits ask first)."""
    if "claim_page" not in g:
        g.claim_page = pages.find_page(db.session, slug)
    return g.claim_page


def project_key() -> str:
    """Who the rate limits count a page claim against: the project's public key (by its row)."""
    try:
        claim_page = current_page((request.view_args or {}).get("slug", ""))
    except errors.PageNotFound:
        return ""
    return limits.key_name(claim_page.project_id, is_secret=False)


@blp.get("/<slug>")
def page(slug: str):
    claim_page = current_page(slug)
    form = ClaimForm(formdata=None, data={"code": request.args.get("code", "")[:200], "email": ""})
    return render_page(claim_page, form)


@blp.post("/<slug>")
def claim(slug: str):
    claim_page = current_page(slug)
    form = ClaimForm()
    if not form.validate():  # only the CSRF token has validators
        return render_page(claim_page, form, message=messages.REFUSALS["form_expired"], status=400)
    code, email = form.code.data or "", form.email.data or ""
    field_errors = _field_errors(code, email)
    if field_errors:
        return render_page(claim_page, form, field_errors=field_errors, status=422)
    try:
        result = codes.claim_code(db.session, claim_page.project_id, code, email=email, source="page")
        db.session.commit()
    except errors.DomainError as exc:
        db.session.rollback()
        if isinstance(exc, errors.CodeNotFound):
            limits.note_code_guess()
        status = next((status for kind, status in STATUS_BY_KIND if isinstance(exc, kind)), 400)
        return render_page(claim_page, form, message=_refusal(claim_page, code, exc), status=status)
    if claim_page.redirect_url:
        return redirect(pages.redirect_with_token(claim_page.redirect_url, result.token), 303)
    session[CLAIMED] = {"slug": claim_page.slug, "code": result.code.code, "email": result.email}
    return redirect(url_for(".claimed", slug=claim_page.slug), 303)


@blp.get("/<slug>/claimed")
def claimed(slug: str):
    claim_page = current_page(slug)
    last = session.get(CLAIMED)
    if not last or last.get("slug") != claim_page.slug:
        return redirect(url_for(".page", slug=claim_page.slug), 303)
    return _secure(Response(render_template("pages/claimed.html", page=claim_page, claim=last)), claim_page)


def _field_errors(code: str, email: str) -> dict[str, str]:
    """Every bad field at once, by the domain's own rules, in the page's words."""
    found = {}
    for field, value, rule in (("code", code, normalize_code), ("email", email, normalize_email)):
        try:
            rule(value)
        except errors.InvalidInput:
            found[field] = messages.field_error(field, value)
    return found


def _refusal(claim_page: ClaimPage, code: str, error: errors.DomainError) -> str:
    """The sentence for a refusal, with the date when the code is not valid yet or expired."""
    if isinstance(error, errors.CodeNotYetValid | errors.CodeExpired):
        try:
            record = codes.get_code(db.session, claim_page.project_id, code)
        except errors.CodeNotFound:  # deleted in between
            return messages.refusal(error)
        if isinstance(error, errors.CodeNotYetValid) and record.valid_from is not None:
            return messages.NOT_YET_VALID_FROM.format(date=messages.format_date(record.valid_from))
        if isinstance(error, errors.CodeExpired) and record.valid_until is not None:
            return messages.EXPIRED_ON.format(date=messages.format_date(record.valid_until))
    return messages.refusal(error)


def render_page(
    claim_page: ClaimPage,
    form: ClaimForm,
    *,
    message: str | None = None,
    field_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    body = render_template(
        "pages/claim.html", page=claim_page, form=form, message=message, field_errors=field_errors or {}
    )
    return _secure(Response(body, status=status), claim_page)


def _secure(response: Response, claim_page: ClaimPage | None) -> Response:
    """Headers for a page that holds a CSRF token and someone's email: never cached, never framed,
    its form posting only here (and, through the redirect, to the project's own site)."""
    form_action = "'self'"
    if claim_page is not None and claim_page.redirect_url:
        parts = urlsplit(claim_page.redirect_url)
        form_action += f" {parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        f"form-action {form_action}; base-uri 'none'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- errors, as pages ---------------------------------------------------------------------------


@blp.errorhandler(limits.RateLimited)
def _rate_limited(exc: limits.RateLimited):
    message = messages.rate_limited(exc.retry_after)  # as many seconds as Retry-After says
    try:
        claim_page = current_page((request.view_args or {}).get("slug", ""))
    except errors.PageNotFound:
        return _error_page(429, message)
    # What the person typed, with a fresh CSRF token.
    form = ClaimForm(formdata=request.form if request.method == "POST" else None)
    return render_page(claim_page, form, message=message, status=429)


@blp.errorhandler(errors.PageNotFound)
def _page_not_found(_exc):
    return _error_page(404, "There is no claim page at this address. Check the link you followed.")


@blp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 413:
        return _error_page(413, "What you sent is too large. Go back and check the form.")
    return _error_page(exc.code or 500, exc.description or messages.REFUSALS["unexpected"])


@blp.errorhandler(Exception)
def _unexpected(_exc: Exception):
    reference = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", reference, request.method, request.path)
    db.session.rollback()
    return _error_page(500, f"{messages.REFUSALS['unexpected']} (Reference: {reference}.)")


def _error_page(status: int, message: str) -> Response:
    body = render_template("pages/error.html", status=status, message=message)
    return _secure(Response(body, status=status), None)
