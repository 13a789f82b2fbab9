from __future__ import annotations

from datetime import UTC
from datetime import datetime
from email.utils import format_datetime

import pytest

from tracefix.sdk._worker import RateLimits
from tracefix.sdk._worker import Response
from tracefix.sdk._worker import parse_rate_limits
from tracefix.sdk._worker import parse_retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("60:transaction:key", {"transaction": 60.0}, id="one category"),
        pytest.param(
            "60:transaction:key, 2700:default;error;security:organization",
            {"transaction": 60.0, "default": 2700.0, "error": 2700.0, "security": 2700.0},
            id="several limits",
        ),
        pytest.param("60::organization, 2700::organization", {None: 2700.0}, id="all categories"),
        pytest.param(
            "2700:metric_bucket:organization:quota_exceeded:custom",
            {"metric_bucket": 2700.0},
            id="extra fields ignored",
        ),
        pytest.param("1.5:error", {"error": 1.5}, id="float seconds, no scope"),
        pytest.param("nonsense, :error:key, 30", {}, id="malformed quotas skipped"),
        pytest.param(" 10 : error ; default :key", {"error": 10.0, "default": 10.0}, id="spaces"),
    ],
)
def test_parse_rate_limits(header: str, expected: dict[str | None, float]) -> None:
    assert parse_rate_limits(header) == expected


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC).timestamp()
    in_two_minutes = format_datetime(datetime(2026, 11, 21, 12, 2, 0, tzinfo=UTC), usegmt=True)

    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("0.5", now) == 0.5
    assert parse_retry_after(in_two_minutes, now) == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after(None, now) == 60.0
    assert parse_retry_after("soon", now) == 60.0
    assert parse_retry_after("-5", now) == 0.0


def test_rate_limits_by_category() -> None:
    limits = RateLimits()

    assert limits.update(Response(200, rate_limits="10:error:key"), now=100.0)
    assert limits.blocked("error", 105.0)
    assert not limits.blocked("internal", 105.0)
    assert not limits.blocked("error", 110.0)
    assert limits.update(Response(429, retry_after="5"), now=200.0)  # no header: everything
    assert limits.blocked("internal", 204.0)
    assert limits.next_expiry(201.0) == 205.0
    assert not limits.update(Response(200), now=300.0)
    assert limits.next_expiry(300.0) is None
    # The detailed header wins over Retry-After.
    assert limits.update(
        Response(429, retry_after="100", rate_limits="1:transaction:key"), now=400.0
    )
    assert not limits.blocked("error", 400.5)
