"""The email a recipient gets: multipart text + HTML, from defaults or the project's templates.

Pure functions, no database. Templates use ``{{code}}``, ``{{project}}``, ``{{claim_url}}`` and
``{{valid_until}}``; in the HTML part every value is HTML-escaped, so a project name or a code
can never inject markup. A claim URL may hold ``{code}``, replaced by the URL-quoted code.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import textwrap
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote, urlsplit

from shared.clock import UTC
from shared.errors import InvalidInput

PLACEHOLDERS = ("code", "project", "claim_url", "valid_until")
SUBJECT_LENGTH = 200
TEMPLATE_LENGTH = 100_000
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_URL_FIELD = re.compile(r"\{([^{}]*)\}")
_HTML_START = '<!DOCTYPE html>\n<html><body style="font-family:sans-serif;line-height:1.5">\n'


@dataclass(frozen=True, slots=True)
class MailTemplates:
    """A project's overrides; ``None`` means the built-in default."""

    subject: str | None = None
    text: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class MailContent:
    """Everything one message says."""

    project: str
    code: str
    email: str
    claim_url: str | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    reserved_for: str | None = None
    templates: MailTemplates = MailTemplates()


# --- validation (when a template or a claim URL is set) -------------------------------------


def unknown_placeholders(template: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(template) if name not in PLACEHOLDERS})


def _placeholder(name: str) -> str:
    return "{{" + name + "}}"


def check_template(template: str, field: str) -> str:
    """The template if every ``{{name}}`` in it is known; InvalidInput naming the others."""
    problems = []
    unknown = unknown_placeholders(template)
    if unknown:
        known = ", ".join(_placeholder(name) for name in PLACEHOLDERS)
        names = ", ".join(_placeholder(name) for name in unknown)
        problems.append(f"Unknown placeholder {names}; use {known}.")
    if len(template) > TEMPLATE_LENGTH:
        problems.append(f"Must be at most {TEMPLATE_LENGTH} characters.")
    if field == "subject" and ("\n" in template or "\r" in template):
        problems.append("Must be one line.")
    if field == "subject" and len(template) > SUBJECT_LENGTH:
        problems.append(f"Must be at most {SUBJECT_LENGTH} characters.")
    if problems:
        raise InvalidInput({field: problems})
    return template


def check_claim_url(url: str) -> str:
    """An absolute http(s) URL whose only ``{...}`` field is ``{code}``."""
    cleaned = url.strip()
    parts = urlsplit(cleaned.replace("{code}", "code"))
    problems = []
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append("Must be an absolute http:// or https:// URL.")
    if any(name != "code" for name in _URL_FIELD.findall(cleaned)):
        problems.append("The only placeholder a claim URL may hold is {code}.")
    if any(ch.isspace() for ch in cleaned):
        problems.append("Must not contain spaces.")
    if len(cleaned) > 2000:
        problems.append("Must be at most 2000 characters.")
    if problems:
        raise InvalidInput({"claimUrl": problems})
    return cleaned


# --- rendering ------------------------------------------------------------------------------


def resolve_claim_url(claim_url: str | None, code: str) -> str | None:
    if not claim_url:
        return None
    return claim_url.replace("{code}", quote(code, safe=""))


def format_timestamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def placeholder_values(content: MailContent) -> dict[str, str]:
    return {
        "code": content.code,
        "project": content.project,
        "claim_url": resolve_claim_url(content.claim_url, content.code) or "",
        "valid_until": format_timestamp(content.valid_until) if content.valid_until else "no expiry",
    }


def render(template: str, values: dict[str, str], *, escape: bool = False) -> str:
    """Replace each ``{{name}}``; values are HTML-escaped when ``escape``. Unknown names stay as
    written (they were refused when the template was set)."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return html.escape(values[name], quote=True) if escape else values[name]

    return _PLACEHOLDER.sub(replace, template)


def _validity(content: MailContent) -> str:
    start = format_timestamp(content.valid_from) if content.valid_from else None
    end = format_timestamp(content.valid_until) if content.valid_until else None
    if start and end:
        return f"It is valid from {start} until {end}."
    if end:
        return f"It is valid until {end}."
    if start:
        return f"It is valid from {start}, with no expiry date."
    return "It has no expiry date."


def _reservation(content: MailContent) -> str:
    if content.reserved_for:
        return f"It is reserved for {content.reserved_for}: nobody else can claim it."
    return "It is not reserved: anyone holding it can claim it, so keep it to yourself until you have."


def _how_to_claim(content: MailContent, url: str | None) -> str:
    if url:
        return f"Claim it here: {url}"
    return f"Enter it where {content.project} asks for your code."


def default_subject(content: MailContent) -> str:
    return f"Your code for {content.project}: {content.code}"


def default_text(content: MailContent) -> str:
    url = resolve_claim_url(content.claim_url, content.code)
    # Short lines keep the part 7bit, readable as it is in an .eml file.
    return (
        "Hello,\n\n"
        f"{_fill(f'here is your code for {content.project}:')}\n\n"
        f"    {content.code}\n\n"
        f"{_fill(_how_to_claim(content, url))}\n\n"
        f"{_fill(_validity(content) + ' ' + _reservation(content))}\n"
    )


def _fill(paragraph: str) -> str:
    return textwrap.fill(paragraph, width=72, break_long_words=False, break_on_hyphens=False)


def default_html(content: MailContent) -> str:
    e = html.escape
    url = resolve_claim_url(content.claim_url, content.code)
    if url:
        claim = (
            f'<p><a href="{e(url)}"\n style="display:inline-block;padding:10px 18px;'
            'background:#2563eb;\n color:#ffffff;border-radius:6px;text-decoration:none">'
            f"Claim your code</a></p>\n<p>Or open {e(url)}</p>"
        )
    else:
        claim = f"<p>Enter it where {e(content.project)} asks for your code.</p>"
    return (
        f"{_HTML_START}<p>Hello,</p>\n"
        f"<p>here is your code for <strong>{e(content.project)}</strong>:</p>\n"
        '<p style="font-family:monospace;font-size:20px;padding:12px;\n'
        f' background:#f3f4f6;display:inline-block">{e(content.code)}</p>\n'
        f"{claim}\n"
        f"<p>{_fill(e(_validity(content)))}<br>\n{_fill(e(_reservation(content)))}</p>\n"
        "</body></html>\n"
    )


def _html_from_text(text: str) -> str:
    """The HTML part when a project overrode only the text: its paragraphs, escaped."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.splitlines()) + "</p>" for p in paragraphs
    )
    return f"{_HTML_START}{body}\n</body></html>\n"


def render_parts(content: MailContent) -> tuple[str, str, str]:
    """Subject, text and HTML of the message."""
    values = placeholder_values(content)
    templates = content.templates
    subject = render(templates.subject, values) if templates.subject else default_subject(content)
    text = render(templates.text, values) if templates.text else default_text(content)
    if templates.html:
        html_part = render(templates.html, values, escape=True)
    elif templates.text:
        html_part = _html_from_text(text)
    else:
        html_part = default_html(content)
    # A header is one line, whatever a template or a value holds.
    subject = " ".join(subject.split())
    return subject, text, html_part


def sender_address(mail_from: str) -> tuple[str, str]:
    """(display name, address) of ``MAIL_FROM``; ValueError when it holds no address."""
    name, address = parseaddr(mail_from)
    if "@" not in address:
        raise ValueError(f"MAIL_FROM is not an email address: {mail_from!r}")
    return name, address


def message_id(delivery_id: int, created_at: dt.datetime, mail_from: str) -> str:
    """Stable across retries, so a receiver can spot the copy that a crash may resend."""
    domain = sender_address(mail_from)[1].rpartition("@")[2]
    return f"<delivery-{delivery_id}.{created_at:%Y%m%d%H%M%S%f}@{domain}>"


def compose(
    content: MailContent,
    *,
    mail_from: str,
    message_id: str | None = None,
    date: dt.datetime | None = None,
) -> EmailMessage:
    subject, text, html_part = render_parts(content)
    name, address = sender_address(mail_from)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = content.email
    if date is not None:
        message["Date"] = format_datetime(date.replace(tzinfo=UTC))
    if message_id is not None:
        message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html_part, subtype="html")
    return message
