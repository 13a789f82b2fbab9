"""The dashboard's one word for a pull request's CI, and the wait a rate limit asks for."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from tracefix.deliver.forges import Check
from tracefix.deliver.forges import CheckState
from tracefix.deliver.forges import CIState
from tracefix.deliver.forges import summarize
from tracefix.deliver.forges.http import UNSPECIFIED_RATE_LIMIT_WAIT
from tracefix.deliver.forges.http import error_message
from tracefix.deliver.forges.http import rate_limit_wait

NOW = 1_800_000_000.0


def checks(*states: CheckState) -> list[Check]:
    return [Check(f"check {n}", state, state.value) for n, state in enumerate(states)]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ((), CIState.NONE),
        ((CheckState.SUCCESS,), CIState.SUCCESS),
        ((CheckState.SUCCESS, CheckState.NEUTRAL), CIState.SUCCESS),
        ((CheckState.NEUTRAL,), CIState.SUCCESS),
        ((CheckState.SUCCESS, CheckState.PENDING), CIState.PENDING),
        ((CheckState.PENDING, CheckState.FAILURE), CIState.FAILURE),
        ((CheckState.SUCCESS, CheckState.FAILURE, CheckState.NEUTRAL), CIState.FAILURE),
    ],
)
def test_any_failure_fails_else_anything_running_is_pending(
    states: tuple[CheckState, ...], expected: CIState
) -> None:
    assert summarize(checks(*states)) is expected


def response(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers, text=text)


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (response(200), None),
        (response(404, text='{"message": "Not Found"}'), None),
        (response(403, text='{"message": "Must have admin rights to Repository."}'), None),
        (response(429, {"retry-after": "7"}), 7.0),
        (response(429, {"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}), 30.0),
        (
            response(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 90)}),
            90.0,
        ),
        (response(429, {"RateLimit-Reset": str(int(NOW) + 12)}), 12.0),
        (
            response(403, text='{"message": "You have exceeded a secondary rate limit."}'),
            UNSPECIFIED_RATE_LIMIT_WAIT,
        ),
        (response(429), UNSPECIFIED_RATE_LIMIT_WAIT),
    ],
)
def test_rate_limit_waits_follow_the_documented_headers(
    answer: httpx.Response, wait: float | None
) -> None:
    assert rate_limit_wait(answer, now=NOW) == wait


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"message": "Bad credentials", "documentation_url": "x"}', "Bad credentials"),
        (
            '{"message": "Validation Failed", "errors": [{"resource": "PullRequest", '
            '"field": "head", "code": "invalid"}, {"message": "No commits between a and b"}]}',
            "Validation Failed; head invalid; No commits between a and b",
        ),
        (
            '{"message": ["Another open merge request already exists for this source branch: !3"]}',
            "Another open merge request already exists for this source branch: !3",
        ),
        (
            '{"message": {"title": ["is too long"], "base": ["is invalid"]}}',
            "title is too long; base is invalid",
        ),
        (
            '{"error": "invalid_token", "error_description": "Token was revoked."}',
            "Token was revoked.",
        ),
        ('{"error": "title is missing"}', "title is missing"),
        ("<html>\n<body>502 Bad Gateway</body>\n</html>", "<html>"),
        ("Retry later\n", "Retry later"),
        ('{"message": "' + "x" * 500 + '"}', "x" * 199 + "…"),
    ],
)
def test_error_bodies_of_every_forge_become_one_line(body: str, message: str) -> None:
    assert error_message(response(400, text=body)) == message
