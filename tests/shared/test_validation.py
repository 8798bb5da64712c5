"""Email addresses: the plain-ASCII shortcut agrees with email-validator, which stays the judge."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.errors import InvalidInput
from shared.validation import _plain_email, normalize_email


def judged(value: str) -> str | None:
    """What email-validator makes of ``value``, lowercased as the service stores it; None if refused."""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "Ada.Lovelace+codes@Mail.Example.CO.UK",
        "u-1_x@bench.example",
        "a@b-c.de",
        "x@123.example.org",
    ],
)
def test_common_addresses_take_the_shortcut_to_the_same_answer(address):
    assert _plain_email(address) == judged(address) == address.lower()


@pytest.mark.parametrize(
    "address",
    [
        "ada@localhost",
        "ada@mail.test",
        "ada@example.local",
        "ada@onion",
        "a..b@example.com",
        ".ab@example.com",
        "ab.@example.com",
        "ab@-example.com",
        "ab@example-.com",
        "ab@ex--ample.com",
        "ab@xn--example.com",
        "ab@example.c0m",
        "ab@example.com.",
        "ab@example",
        "ab@1.2.3.4",
        "x" * 65 + "@example.com",
        "ab@" + "a" * 64 + ".com",
        "ab@" + ("a" * 60 + ".") * 5 + "com",
        "a" * 64 + "@" + ("a" * 60 + ".") * 3 + "abcdefgh.com",
        '"quoted"@example.com',
        "ünïcode@example.com",
        "ab@exämple.com",
        "Ada <ada@example.com>",
    ],
)
def test_anything_unusual_is_left_to_email_validator(address):
    assert _plain_email(address) is None
    expected = judged(address)
    if expected is None:
        with pytest.raises(InvalidInput):
            normalize_email(address)
    else:
        assert normalize_email(address) == expected


# Email-shaped strings: plain addresses with parts of every length around the limits, and the
# same with one character slipped in where it may break a rule, mostly at the edges of the parts.
_LOCAL = st.one_of(
    st.from_regex(r"[a-zA-Z0-9_+-]{1,8}(\.[a-zA-Z0-9_+-]{1,8}){0,3}", fullmatch=True),
    st.integers(60, 70).map("l".__mul__),
)
_LABEL = st.one_of(
    st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,3}--[a-z0-9]{1,3}", fullmatch=True),
    st.integers(61, 65).map("d".__mul__),
)
_TLD = st.sampled_from(
    ["com", "CoM", "io", "c0m", "12", "test", "local", "localhost", "arpa", "x", "xn--p1ai"]
)


@st.composite
def _addresses(draw) -> str:
    labels = draw(st.lists(_LABEL, min_size=0, max_size=5))
    address = f"{draw(_LOCAL)}@{'.'.join([*labels, draw(_TLD)])}"
    if draw(st.booleans()):
        edges = [0, len(address)] + [i for i, c in enumerate(address) if c in ".@"]
        edges += [i + 1 for i, c in enumerate(address) if c in ".@"]
        at = draw(st.one_of(st.sampled_from(edges), st.integers(0, len(address))))
        address = address[:at] + draw(st.sampled_from('.-_+@"!é ')) + address[at:]
    return address


_ADDRESS = _addresses()


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(_ADDRESS)
@example("a@" + "abcdefghij" * 6 + "abc." + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com")
def test_the_shortcut_accepts_only_what_email_validator_accepts_and_agrees_on_the_result(address):
    shortcut = _plain_email(address)
    if shortcut is not None:
        assert shortcut == judged(address)


@settings(max_examples=300, deadline=None)
@given(_ADDRESS)
def test_normalize_email_answers_as_email_validator_does(address):
    expected = judged(address.strip())
    if expected is None or len(address.strip()) > 320:
        with pytest.raises(InvalidInput) as refused:
            normalize_email(address)
        assert refused.value.errors == {"email": ["Not a valid email address."]}
    else:
        assert normalize_email(address) == expected
