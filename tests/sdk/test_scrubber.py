"""Privacy: secrets leave by value and by name, personal data only with ``send_default_pii``,
and normal values stay."""

from __future__ import annotations

import base64
import enum
import glob
import json
import logging
import os
import random
import re
import sys
from typing import Any

import pytest

import tracefix
from tracefix.sdk.scrubber import FILTERED
from tracefix.sdk.scrubber import Scrubber
from tracefix.sdk.scrubber import looks_random

from .conftest import CapturedEvents
from .conftest import TracefixInit

#: One of each kind, in a valid format (none of them is a live credential).
SECRETS = {
    "aws access key id": "AKIAIOSFODNN7EXAMPLE",
    "github classic token": "ghp_" + "Xk9pQ2mZr7LbT4wN8yCv3HsJ6dFg1AeUqR5o",
    "github fine-grained token": "github_pat_11ABCDEFG0kQ9xZ2_b7LrT4wN8yCv3HsJ6dFg1AeUqR5oM2nB",
    "gitlab token": "glpat-Xk9pQ2mZr7LbT4wN8yCv",
    "slack bot token": "xoxb-123456789012-1234567890123-Xk9pQ2mZr7LbT4wN8yCv3HsJ",
    "stripe live key": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "google api key": "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "openai project key": "sk-proj-Xk9pQ2mZr7LbT4wN8yCv3HsJ6dFg1AeUqR5oM2nB",
    "anthropic key": "sk-ant-api03-Xk9pQ2mZr7LbT4wN8yCv3HsJ6dFg1AeUqR5oM2nB",
    "jwt": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFubiJ9."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    ),
    "pem private key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\n"
        "-----END RSA PRIVATE KEY-----"
    ),
    "random token": "Zx9qT3vLp8RkW2mN7bYc4HsJ6dFg1AeU",
}


def secret_id(kind: str) -> str:
    return kind


# --- by value, everywhere -------------------------------------------------------------------


def checkout(card_token: Any, note: Any) -> None:
    settings = {"region": "eu", "webhook": note}  # noqa: F841 - a local the event must show
    raise PermissionError(f"payment provider refused: {note}")


@pytest.mark.parametrize("kind", list(SECRETS), ids=secret_id)
def test_each_secret_kind_is_filtered_everywhere(
    tracefix_init: TracefixInit, captured_events: CapturedEvents, kind: str
) -> None:
    secret = SECRETS[kind]
    tracefix_init()
    logging.getLogger("tests.sdk.shop").warning("retrying with %s", secret)
    try:
        checkout(card_token="ok", note=f"key {secret} rejected")
    except PermissionError:
        tracefix.capture_exception()

    (event,) = captured_events()
    payload = json.dumps(event)
    assert secret not in payload
    for line in secret.splitlines():
        assert line not in payload or len(line) < 16
    frame_vars = event["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"]
    assert FILTERED in frame_vars["note"]  # a plain local
    assert FILTERED in frame_vars["settings"]  # inside a dict's repr
    assert frame_vars["settings"].startswith("{'region': 'eu', 'webhook': ")  # structure kept
    assert FILTERED in event["exception"]["values"][0]["value"]  # the message
    assert FILTERED in event["breadcrumbs"]["values"][-1]["message"]  # a log message


@pytest.mark.parametrize("kind", list(SECRETS), ids=secret_id)
def test_each_secret_kind_in_request_data(kind: str) -> None:
    event = {"request": {"data": {"comment": f"use {SECRETS[kind]} please"}, "url": "https://x/"}}
    Scrubber().scrub_event(event)
    assert SECRETS[kind] not in json.dumps(event)
    assert event["request"]["data"]["comment"].startswith("use ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "postgresql://shop:Tr0ub4dor&3@db.internal:5432/shop",
            "postgresql://shop:[Filtered]@db.internal:5432/shop",
            id="url password, user kept",
        ),
        pytest.param(
            "redis://:hunter2@cache:6379/0", "redis://:[Filtered]@cache:6379/0", id="url, no user"
        ),
        pytest.param(
            "sent Bearer abc123def456ghi789 upstream",
            "sent Bearer [Filtered] upstream",
            id="bearer",
        ),
        pytest.param("password=hunter2&next=/", "password=[Filtered]&next=/", id="query string"),
        pytest.param(
            "{'user': 'ann', 'password': 'hunter2'}",
            "{'user': 'ann', 'password': '[Filtered]'}",
            id="dict repr",
        ),
        pytest.param(
            "Settings(api_key='abc123', debug=True)",
            "Settings(api_key='[Filtered]', debug=True)",
            id="pydantic-style repr",
        ),
        pytest.param(
            'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            'aws_secret_access_key = "[Filtered]"',
            id="assignment",
        ),
        pytest.param(
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
            "[Filtered]",
            id="slack webhook",
        ),
    ],
)
def test_secrets_in_text(text: str, expected: str) -> None:
    assert Scrubber().scrub_text(text) == expected


NORMAL_VALUES = [
    "123e4567-e89b-12d3-a456-426614174000",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "/static/app.3f9a2c7e1b9d4f6a.js",
    "/srv/app/.venv/lib/python3.11/site-packages/flask/app.py",
    "create_app_from_config_file",
    "TestCreateUserWithFactoryAndRoles",
    "https://example.com/api/v1/users?page=2&sort=name",
    "postgres://db.internal:5432/shop",
    "max_tokens=512",
    "{'user_id': 42, 'primary_key': True, 'cache_key': 'user:42'}",
    "2026-11-22T00:34:41.123456+00:00",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "invalid literal for int() with base 10: 'abc'",
    "git+https://github.com/pallets/flask@3.1.3",
    "<Flask 'shop'>",
    "<function create_app at 0x7f3b2c1d9e50>",
    "SQLALCHEMY_DATABASE_URI=sqlite:///instance/shop.sqlite",
    "KeyError: 'token'",
    "ann@example.com",
    "tracefix.sdk.integrations.flask.FlaskIntegration",
    "Bearer",
]


@pytest.mark.parametrize("value", NORMAL_VALUES)
def test_normal_values_survive(value: str) -> None:
    assert Scrubber().scrub_text(value) == value


# --- by name --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "DB_PASSWORD",
        "secret",
        "SECRET_KEY",
        "token",
        "access_token",
        "accessToken",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "csrf_token",
        "XSRF-TOKEN",
        "private_key",
        "MYSQL_PWD",
        "credentials",
        "auth",
        "jwt",
        "card_number",
    ],
)
def test_secret_names_are_filtered_always(name: str) -> None:
    for pii in (False, True):
        event = {"extra": {name: "x", "nested": {name: "y"}, "kept": "z"}}
        Scrubber(send_default_pii=pii).scrub_event(event)
        assert event["extra"] == {name: FILTERED, "nested": {name: FILTERED}, "kept": "z"}


@pytest.mark.parametrize(
    "name",
    [
        "cookie",
        "Set-Cookie",
        "Authorization",
        "session",
        "sessionid",
        "X-Forwarded-For",
        "REMOTE_ADDR",
        "ip_address",
    ],
)
def test_personal_data_names_are_filtered_without_pii(name: str) -> None:
    without = {"extra": {name: "v"}}
    Scrubber().scrub_event(without)
    assert without["extra"][name] == FILTERED
    with_pii = {"extra": {name: "v"}}
    Scrubber(send_default_pii=True).scrub_event(with_pii)
    assert with_pii["extra"][name] == "v"


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",
        "tokenizer",
        "author",
        "oauth_provider",
        "passed",
        "PWD",
        "session_count",
        "primary_key",
        "cache_key",
        "user_id",
        "keyboard",
    ],
)
def test_ordinary_names_are_kept(name: str) -> None:
    event = {"extra": {name: "value"}}
    Scrubber().scrub_event(event)
    assert event["extra"][name] == "value"


def test_secret_locals_by_name(
    tracefix_init: TracefixInit, captured_events: CapturedEvents
) -> None:
    def login(username: str, password: str) -> None:
        api_key = "k"  # noqa: F841
        raise ValueError("bad credentials")

    tracefix_init()
    try:
        login("ann", "hunter2")
    except ValueError:
        tracefix.capture_exception()
    frame_vars = captured_events()[0]["exception"]["values"][0]["stacktrace"]["frames"][-1]["vars"]
    assert frame_vars == {"username": "'ann'", "password": FILTERED, "api_key": FILTERED}


def test_structure_is_kept_and_depth_bounded() -> None:
    deep: dict[str, Any] = {"leaf": "AKIAIOSFODNN7EXAMPLE"}
    for _ in range(30):
        deep = {"level": deep}
    event = {"extra": {"list": ["a", ("b", "AKIAIOSFODNN7EXAMPLE")], "deep": deep, "n": 3}}
    Scrubber().scrub_event(event)
    assert event["extra"]["list"] == ["a", ["b", FILTERED]]
    assert event["extra"]["n"] == 3
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(event)


def test_source_lines_lose_only_unambiguous_secrets() -> None:
    frame = {
        "filename": "app.py",
        "context_line": '    password = request.form["password"]',
        "pre_context": ['STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"'],
        "post_context": ["    token = make_token(user)"],
    }
    Scrubber().scrub_event({"exception": {"values": [{"stacktrace": {"frames": [frame]}}]}})
    assert frame["context_line"] == '    password = request.form["password"]'
    assert frame["pre_context"] == ['STRIPE_KEY = "[Filtered]"']
    assert frame["post_context"] == ["    token = make_token(user)"]


def test_what_the_scrubber_remembers_never_changes_its_answer() -> None:
    # It remembers scrubbed texts and source lines: the second of two alike events, and a
    # third after its memory was cleared, come out as the first did.
    frame = {
        "context_line": '    client = Client("sk_live_4eC39HqLyjWDarjtT1zdp7dc")',
        "pre_context": ["def pay():"],
        "post_context": ["    return client"],
        "vars": {"note": "'retry with Zx9qT3vLp8RkW2mN7bYc4HsJ6dFg1AeU'", "password": "'x'"},
    }

    def event() -> dict[str, Any]:
        return {
            "exception": {
                "values": [
                    {
                        "value": "token=Zx9qT3vLp8RkW2mN7bYc4HsJ6dFg1AeU",
                        "stacktrace": {"frames": [json.loads(json.dumps(frame))]},
                    }
                ]
            },
            "extra": {"argv": ["serve", "--api-key=AKIAIOSFODNN7EXAMPLE"], "cwd": "/srv/shop"},
        }

    scrubber = Scrubber()
    first, second, third = event(), event(), event()
    scrubber.scrub_event(first)
    scrubber.scrub_event(second)
    scrubber._texts.clear()
    scrubber._sources.clear()
    scrubber.scrub_event(third)

    assert first == second == third
    payload = json.dumps(first)
    for secret in ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "Zx9qT3vLp8RkW2mN7bYc4HsJ6dFg1AeU"):
        assert secret not in payload
    assert "AKIAIOSFODNN7EXAMPLE" not in payload
    assert first["extra"]["cwd"] == "/srv/shop"


def test_a_secret_name_filters_under_a_str_subclass_key() -> None:
    class Field(enum.StrEnum):
        PASSWORD = "password"

    event = {"extra": {"form": {Field.PASSWORD: "hunter2", "user": "ann"}}}
    Scrubber().scrub_event(event)
    assert event["extra"]["form"] == {Field.PASSWORD: FILTERED, "user": "ann"}


# --- the high-entropy heuristic, measured ---------------------------------------------------

WORD = re.compile(r"[A-Za-z0-9_.+/=-]{20,}")


def normal_words() -> set[str]:
    """The long words of ordinary code and paths: every word of 20+ key characters in the
    standard library's sources (not its tests, full of base64 fixtures) and the paths of every
    module this process imported."""
    stdlib = os.path.dirname(os.__file__)
    words: set[str] = set()
    for path in sorted(glob.glob(os.path.join(stdlib, "**", "*.py"), recursive=True)):
        if re.search(r"site-packages|/tests?/|idle_test", path):
            continue
        try:
            with open(path, encoding="utf-8") as stream:
                words.update(WORD.findall(stream.read()))
        except (OSError, UnicodeDecodeError):
            continue
    for module in list(sys.modules.values()):
        words.update(WORD.findall(getattr(module, "__file__", None) or ""))
    return words


def test_false_positives_on_normal_words() -> None:
    scrubber = Scrubber()
    words = normal_words()
    changed = sorted(word for word in words if scrubber.scrub_text(word) != word)
    print(f"{len(changed)} of {len(words)} words changed ({len(changed) / len(words):.3%})")
    assert len(words) > 5_000
    assert len(changed) / len(words) < 0.002, changed[:50]


def test_random_tokens_are_found() -> None:
    rng = random.Random(4)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    found = {20: 0, 32: 0, 48: 0}
    for length in found:
        for _ in range(500):
            if rng.random() < 0.5:
                token = "".join(rng.choice(alphabet) for _ in range(length))
            else:
                raw = bytes(rng.getrandbits(8) for _ in range(length))
                token = base64.urlsafe_b64encode(raw).decode()[:length]
            found[length] += looks_random(token)
    assert found[20] / 500 > 0.85
    assert found[32] / 500 > 0.93
    assert found[48] / 500 > 0.97


def test_hex_and_uuids_are_never_random() -> None:
    rng = random.Random(5)
    for _ in range(200):
        assert not looks_random(f"{rng.getrandbits(160):040x}")
        assert not looks_random(str(__import__("uuid").UUID(int=rng.getrandbits(128))))
