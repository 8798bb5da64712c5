"""Timestamps leave the API as ISO 8601 UTC with milliseconds and Z, whatever the year."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.clock import isoformat_z


@pytest.mark.parametrize(
    "value, expected",
    [
        (dt.datetime(2021, 11, 29, 17, 42, 7, 647999), "2021-11-29T17:42:07.647Z"),
        (dt.datetime(103, 10, 22, 20, 39, 2), "0103-10-22T20:39:02.000Z"),  # found by schemathesis
        (dt.datetime(1, 1, 1), "0001-01-01T00:00:00.000Z"),
        (
            dt.datetime(2030, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2029-12-31T23:00:00.000Z",
        ),
        (None, None),
    ],
)
def test_isoformat_z(value, expected):
    assert isoformat_z(value) == expected
