"""Code generation: formats, the source of randomness, and bounded distinct draws. No database."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.codegen import CodeGenerator, is_in_space
from shared.models import CODE_TYPES

FORMATS = {
    "creative": re.compile(r"[a-z]+-[a-z]+"),
    "alphanumeric": re.compile(r"[a-z0-9]{6}"),
    "numeric": re.compile(r"[0-9]{6}"),
}

seeds = st.integers(min_value=0, max_value=2**64)
code_types = st.sampled_from(CODE_TYPES)


def seeded(seed: int) -> CodeGenerator:
    """A generator drawing from ``random.Random(seed)``; built once, reseeded (building one is slow)."""
    _seeded.rng.seed(seed)
    return _seeded


_seeded = CodeGenerator(random.Random())


def test_default_randomness_is_system_random():
    assert isinstance(CodeGenerator().rng, random.SystemRandom)


def test_an_injected_random_makes_draws_reproducible():
    first = CodeGenerator(random.Random(7))
    second = CodeGenerator(random.Random(7))
    for code_type in CODE_TYPES:
        assert first.draw_distinct(code_type, 20) == second.draw_distinct(code_type, 20)


@pytest.mark.parametrize("code_type", CODE_TYPES)
def test_default_generator_draws_the_documented_format(code_type):
    codes = CodeGenerator().draw_distinct(code_type, 200)
    assert len(set(codes)) == 200
    assert all(FORMATS[code_type].fullmatch(code) for code in codes)
    assert all(is_in_space(code, code_type) for code in codes)


def test_spaces_count_every_possible_code():
    spaces = CodeGenerator().spaces
    assert spaces["alphanumeric"] == 36**6
    assert spaces["numeric"] == 10**6
    assert spaces["creative"] > 100_000


def test_unknown_type_is_refused():
    with pytest.raises(ValueError):
        CodeGenerator().draw("emoji")


@settings(deadline=None)
@given(seed=seeds, code_type=code_types)
def test_every_drawn_code_has_its_type_format(seed, code_type):
    code = seeded(seed).draw(code_type)
    assert FORMATS[code_type].fullmatch(code)


@settings(deadline=None)
@given(seed=seeds, code_type=code_types, count=st.integers(1, 300))
def test_draw_distinct_returns_count_distinct_codes_of_the_type(seed, code_type, count):
    codes = seeded(seed).draw_distinct(code_type, count)
    assert len(codes) == count == len(set(codes))
    assert all(FORMATS[code_type].fullmatch(code) for code in codes)


@settings(deadline=None)
@given(seed=seeds, code_type=code_types, excluded=st.integers(1, 100), count=st.integers(1, 100))
def test_draw_distinct_never_returns_an_excluded_code(seed, code_type, excluded, count):
    # The same seed replays the same draws: every early draw is an excluded code and must be skipped.
    exclude = set(seeded(seed).draw_distinct(code_type, excluded))
    codes = seeded(seed).draw_distinct(code_type, count, exclude=exclude)
    assert len(codes) == count == len(set(codes))
    assert not exclude & set(codes)


@settings(deadline=None, max_examples=50)
@given(seed=seeds, space=st.integers(1, 300), data=st.data())
def test_dense_numeric_draw_takes_only_free_codes(seed, space, data):
    generator = CodeGenerator(random.Random(seed))
    generator.spaces["numeric"] = space  # the codes 000000 .. space - 1
    everything = [f"{i:06d}" for i in range(space)]
    exclude = set(data.draw(st.lists(st.sampled_from(everything), max_size=space)))
    free = set(everything) - exclude
    count = data.draw(st.integers(1, max(len(free), 1)))
    assume(len(exclude) + count > space // 2)  # dense: the draw enumerates the shrunk space
    codes = generator.draw_distinct("numeric", count, exclude=exclude)
    assert len(codes) == min(count, len(free)) == len(set(codes))
    assert set(codes) <= free


@pytest.mark.slow
def test_dense_numeric_space_is_enumerated_and_yields_exactly_the_free_codes():
    free = {"000000", "123456", "500000", "999999"}
    taken = {f"{i:06d}" for i in range(10**6)} - free
    codes = CodeGenerator(random.Random(1)).draw_distinct("numeric", 4, exclude=taken)
    assert set(codes) == free and len(codes) == 4


def test_dense_numeric_draw_returns_what_is_left_when_asked_for_more():
    generator = CodeGenerator(random.Random(1))
    generator.spaces["numeric"] = 100  # the codes 000000 .. 000099
    taken = {f"{i:06d}" for i in range(95)}
    codes = generator.draw_distinct("numeric", 10, exclude=taken)
    assert sorted(codes) == [f"{i:06d}" for i in range(95, 100)]


def test_draw_distinct_gives_up_when_draws_keep_repeating():
    generator = CodeGenerator(random.Random(1))
    generator.draw = lambda code_type: "aaaaaa"
    assert generator.draw_distinct("alphanumeric", 5) == ["aaaaaa"]
    assert generator.draw_distinct("alphanumeric", 5, exclude={"aaaaaa"}) == []


@pytest.mark.parametrize(
    ("code", "code_type", "expected"),
    [
        ("123456", "numeric", True),
        ("123456", "alphanumeric", True),
        ("abc123", "alphanumeric", True),
        ("abc123", "numeric", False),
        ("12345", "numeric", False),
        ("abc-12", "alphanumeric", False),
        ("curious-pineapple", "creative", True),
        ("abc123", "creative", False),
    ],
)
def test_is_in_space(code, code_type, expected):
    assert is_in_space(code, code_type) is expected
