"""Message composition: both MIME parts, what they say, templates, escaping. No database."""

from __future__ import annotations

import datetime as dt
import random
from email import message_from_bytes, policy

import pytest

from shared.errors import InvalidInput
from shared.mail.message import (
    MailContent,
    MailTemplates,
    check_claim_url,
    check_template,
    compose,
    message_id,
    render_parts,
)
from shared.mail.worker import RetryPolicy

UNTIL = dt.datetime(2030, 2, 1, 18, 30)


def content(**changes) -> MailContent:
    values = {"project": "Acme", "code": "curious-pineapple", "email": "lead@example.com"}
    values.update(changes)
    return MailContent(**values)


def parts(message) -> tuple[str, str]:
    """The text and HTML bodies, read back from the bytes that would go over the wire."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    return text, html


def test_default_message_names_project_code_claim_url_window_and_reservation():
    message = compose(
        content(
            claim_url="https://acme.test/claim?code={code}",
            reserved_for="lead@example.com",
            valid_from=dt.datetime(2030, 1, 1, 9, 0),
            valid_until=UNTIL,
        ),
        mail_from="Acme Codes <codes@acme.test>",
        message_id="<delivery-7.1@acme.test>",
        date=dt.datetime(2030, 1, 5, 12, 0),
    )
    assert message["Subject"] == "Your code for Acme: curious-pineapple"
    assert message["From"].addresses[0].addr_spec == "codes@acme.test"
    assert message["From"].addresses[0].display_name == "Acme Codes"
    assert message["To"] == "lead@example.com"
    assert message["Message-ID"] == "<delivery-7.1@acme.test>"
    assert message["Date"] == "Sat, 05 Jan 2030 12:00:00 +0000"
    text, html = parts(message)
    for body in (text, html):
        assert "curious-pineapple" in body
        assert "Acme" in body
        assert "https://acme.test/claim?code=curious-pineapple" in body
        assert "2030-01-01 09:00 UTC" in body
        assert "2030-02-01 18:30 UTC" in body
        assert "reserved for lead@example.com" in body
    assert '<a href="https://acme.test/claim?code=curious-pineapple"' in html


def test_default_message_without_claim_url_or_window_says_so():
    text, html = parts(compose(content(), mail_from="codes@acme.test"))
    assert "Enter it where Acme asks for your code." in text
    assert "no expiry date" in text
    assert "not reserved" in text
    assert "<a href" not in html


def test_text_part_is_plain_7bit_so_an_eml_file_reads_as_sent():
    message = compose(content(valid_until=UNTIL), mail_from="codes@acme.test")
    raw = message.as_bytes()
    assert b"Content-Transfer-Encoding: 7bit" in raw
    assert b"    curious-pineapple\n" in raw


def test_every_value_is_escaped_in_the_html_part():
    hostile = content(
        project='<script>alert("x")</script> & Co',
        code="<b>code</b>",
        claim_url="https://acme.test/claim?code={code}&ref='mail'",
        reserved_for="o'brien&co@example.com",
        valid_until=UNTIL,
    )
    text, html = parts(compose(hostile, mail_from="codes@acme.test"))
    assert "<script>" not in html
    assert "<b>code</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;code&lt;/b&gt;" in html
    assert "o&#x27;brien&amp;co@example.com" in html
    # The code is URL-quoted in the link, and the attribute cannot be broken out of.
    assert 'href="https://acme.test/claim?code=%3Cb%3Ecode%3C%2Fb%3E&amp;ref=&#x27;mail&#x27;"' in html
    # The text part is not HTML: it shows the values as they are.
    assert '<script>alert("x")</script> & Co' in text


def test_templates_replace_placeholders_and_escape_values_only_in_html():
    templates = MailTemplates(
        subject="{{project}} sent you {{ code }}",
        text="Code {{code}} for {{project}}, until {{valid_until}}: {{claim_url}}",
        html="<h1>{{project}}</h1><a href='{{claim_url}}'>{{code}}</a>",
    )
    subject, text, html = render_parts(
        content(
            project="A&B",
            claim_url="https://ab.test/c/{code}",
            valid_until=UNTIL,
            templates=templates,
        )
    )
    assert subject == "A&B sent you curious-pineapple"
    assert (
        text
        == "Code curious-pineapple for A&B, until 2030-02-01 18:30 UTC: https://ab.test/c/curious-pineapple"
    )
    assert html == "<h1>A&amp;B</h1><a href='https://ab.test/c/curious-pineapple'>curious-pineapple</a>"


def test_a_text_template_alone_also_makes_the_html_part_from_it_escaped():
    templates = MailTemplates(text="Hi <there>,\nyour code: {{code}}\n\nValid until {{valid_until}}.")
    _subject, text, html = render_parts(content(templates=templates))
    assert text.startswith("Hi <there>,\nyour code: curious-pineapple")
    assert "<p>Hi &lt;there&gt;,<br>\nyour code: curious-pineapple</p>" in html
    assert "<p>Valid until no expiry.</p>" in html


def test_a_subject_never_spans_lines_whatever_a_value_holds():
    templates = MailTemplates(subject="{{project}}   code")
    subject, _text, _html = render_parts(
        content(project="Acme\r\nBcc: victim@example.com", templates=templates)
    )
    assert subject == "Acme Bcc: victim@example.com code"


@pytest.mark.parametrize("template", ["Hi {{name}}", "{{ Code }}", "{{code}} {{codes}}", "{{}}"])
def test_unknown_placeholder_is_refused(template):
    with pytest.raises(InvalidInput) as error:
        check_template(template, "text")
    [problem] = error.value.errors["text"]
    assert problem.startswith("Unknown placeholder")
    assert "{{code}}, {{project}}, {{claim_url}}, {{valid_until}}" in problem


def test_known_placeholders_and_other_braces_are_accepted():
    html = "<style>@media (x){.a{color:red}}</style>{{code}}{{ project }}{{claim_url}}{{valid_until}}"
    assert check_template(html, "html") == html


def test_a_subject_template_must_be_one_short_line():
    with pytest.raises(InvalidInput) as error:
        check_template("Hello\n{{code}}", "subject")
    assert error.value.errors == {"subject": ["Must be one line."]}
    with pytest.raises(InvalidInput):
        check_template("x" * 201, "subject")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://acme.test/{code}",
        "acme.test/claim",
        "https://acme.test/{id}",
        "https://acme.test/a b",
        "javascript:alert(1)",
    ],
)
def test_bad_claim_urls_are_refused(url):
    with pytest.raises(InvalidInput) as error:
        check_claim_url(url)
    assert "claimUrl" in error.value.errors


def test_claim_url_may_hold_code_placeholder_or_none():
    assert check_claim_url("  https://acme.test/claim?c={code}  ") == "https://acme.test/claim?c={code}"
    assert check_claim_url("http://localhost:3000/claim") == "http://localhost:3000/claim"


def test_message_id_is_stable_per_delivery_and_uses_the_sender_domain():
    created = dt.datetime(2030, 1, 1, 12, 0, 0, 123456)
    first = message_id(42, created, "Acme <codes@acme.test>")
    assert first == message_id(42, created, "Acme <codes@acme.test>")
    assert first == "<delivery-42.20300101120000123456@acme.test>"
    assert message_id(43, created, "codes@acme.test") != first


def test_mail_from_without_an_address_is_refused():
    with pytest.raises(ValueError, match="MAIL_FROM"):
        compose(content(), mail_from="nobody")


def test_backoff_doubles_with_jitter_and_is_capped():
    policy_ = RetryPolicy(max_attempts=10, base_seconds=60, max_seconds=600, rng=random.Random(1))
    for attempts, ceiling in [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (9, 600)]:
        delays = {policy_.delay(attempts).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempts, delays)
        assert len(delays) > 40, "jitter spreads the retries"
