"""The forges' HTTP edge: one httpx client per repository, errors as one line, rate limits obeyed.

Every failure becomes a ``DeliveryError`` whose message is one line a person can act on (the
forge, what we tried, the status, the forge's own message). The token lives only in the
client's default headers: it is never put in a URL, a log record or a message, and any echo of
it in a forge's answer is masked. Pagination links are followed only within the API's own
origin, so a forged ``Link`` header cannot send the token to another host. Plain http is
refused except on loopback, where the tests' fake forges listen.

Rate limits follow GitHub's documented rules, which GitLab and Gitea (behind a proxy) share:
a 429, or a 403 with ``x-ratelimit-remaining: 0`` or a "rate limit" message, means wait for
``Retry-After`` seconds, else until the reset time (``x-ratelimit-reset`` or ``RateLimit-Reset``,
epoch seconds), else a minute. A wait within ``max_rate_limit_wait`` is slept through and the
request repeated; a longer one raises ``RateLimited`` with the seconds to wait, for the server
to schedule rather than block a worker.

A forge that is briefly down (a 502, 503 or 504 from its proxy, a refused or reset connection)
gets the same request again after ``TRANSIENT_BACKOFF`` seconds. Repeating is safe even for the
request that opens a pull request: had the first one gone through, the forge answers that the
pull request exists, and each forge module then finds it.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

import httpx

from tracefix.errors import DeliveryError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RATE_LIMIT_WAIT = 60.0
#: GitHub's advice when a rate-limited answer says nothing about when to come back.
UNSPECIFIED_RATE_LIMIT_WAIT = 60.0
MAX_RATE_LIMIT_RETRIES = 3
#: Seconds before each repeat of a request the forge failed in passing; then it is an error.
TRANSIENT_BACKOFF = (1.0, 4.0)
#: What a proxy answers while the forge behind it restarts or is overloaded.
TRANSIENT_STATUSES = frozenset({502, 503, 504})
#: Enough for every open pull request or check of a commit; a bound against a looping server.
MAX_PAGES = 20
MESSAGE_CHARS = 200
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: GitHub rejects requests without one.
USER_AGENT = "tracefix"

#: Given the last page's response, the URL of the next one, or ``None`` on the last page.
NextPage = Callable[[httpx.Response], str | None]


class RateLimited(DeliveryError):
    """The forge asks to wait longer than the caller allows; ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiClient:
    """Requests to one forge's REST API for one repository, authenticated by one token."""

    def __init__(
        self,
        *,
        forge: str,
        base_url: str,
        repository: str,
        token: str,
        auth_headers: Mapping[str, str],
        timeout: float = DEFAULT_TIMEOUT,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise DeliveryError(f"{forge}: no token given for {repository}")
        url = httpx.URL(base_url.rstrip("/"))
        if url.scheme not in {"https", "http"} or not url.host:
            raise DeliveryError(f"{forge}: {base_url!r} is not an http(s) API URL")
        if url.scheme == "http" and url.host not in LOOPBACK_HOSTS:
            raise DeliveryError(
                f"{forge}: refusing to send the token over plain http to {url.host}; use https"
            )
        self.forge = forge
        self.base_url = url
        self.repository = repository
        self.timeout = timeout
        self.max_rate_limit_wait = max_rate_limit_wait
        self._token = token
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=url,
            headers={"User-Agent": USER_AGENT, **auth_headers},
            timeout=timeout,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, object] | None = None,
        passthrough: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request; any status but 2xx or one in ``passthrough`` raises.

        ``action`` completes "could not ..." in messages: "open the pull request".
        """
        for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
            response = self._send_until_up(
                method, path, action=action, params=params, json_body=json_body
            )
            wait = rate_limit_wait(response)
            if wait is None:
                break
            if wait > self.max_rate_limit_wait or attempt == MAX_RATE_LIMIT_RETRIES:
                raise RateLimited(
                    f"{self.forge} rate limit reached while trying to {action}: "
                    f"retry in {math.ceil(wait)} s ({self._message(response)})",
                    retry_after=wait,
                )
            logger.info("%s rate limit on %s %s: waiting %.0f s", self.forge, method, path, wait)
            self._sleep(wait)
        if response.is_success or response.status_code in passthrough:
            return response
        raise DeliveryError(self._failure(response, action))

    def json(self, response: httpx.Response, action: str) -> Any:
        """The response's JSON body; ``DeliveryError`` when it is something else."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            kind = response.headers.get("content-type", "no content type")
            raise DeliveryError(
                f"{self.forge} answered with something that is not JSON while trying to "
                f"{action} (HTTP {response.status_code}, {kind})"
            ) from exc

    def json_object(self, response: httpx.Response, action: str) -> dict[str, Any]:
        """The response's JSON body, which must be an object."""
        return expect_object(self.json(response, action), f"{self.forge} {action}")

    def pages(
        self,
        path: str,
        *,
        action: str,
        params: Mapping[str, str | int],
        next_page: NextPage,
        items: Callable[[Any], Any] | None = None,
    ) -> Iterator[Any]:
        """Every item of a paginated list, page by page, at most ``MAX_PAGES`` pages.

        ``items`` picks the list out of a page whose body is an object (GitHub's check runs).
        """
        url: str | None = path
        page_params: Mapping[str, str | int] | None = params
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, action=action, params=page_params)
            body = self.json(response, action)
            found = items(body) if items is not None else body
            yield from expect_list(found, f"{self.forge} {action}")
            url = next_page(response)
            if url is not None:
                self._check_same_origin(url, action)
            page_params = None
        logger.warning("%s: stopped after %d pages of %s", self.forge, MAX_PAGES, path)

    def _send_until_up(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str | int] | None,
        json_body: Mapping[str, object] | None,
    ) -> httpx.Response:
        """Send the request, again after each of ``TRANSIENT_BACKOFF`` while the forge fails in
        passing; its last answer (which may still be a 5xx), or ``DeliveryError``."""
        for backoff in (*TRANSIENT_BACKOFF, None):
            try:
                response = self._client.request(method, path, params=params, json=json_body)
            except httpx.TimeoutException as exc:
                raise DeliveryError(
                    f"{self.forge} did not answer within {self.timeout:g} s while trying to "
                    f"{action}"
                ) from exc
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                if backoff is None:
                    raise self._unreachable(exc, action) from exc
                failure = type(exc).__name__
            except httpx.HTTPError as exc:
                raise self._unreachable(exc, action) from exc
            else:
                logger.debug("%s %s -> %d", method, response.request.url.path, response.status_code)
                if response.status_code not in TRANSIENT_STATUSES or backoff is None:
                    return response
                failure = str(response.status_code)
            logger.info("%s %s %s: %s, again in %g s", self.forge, method, path, failure, backoff)
            self._sleep(backoff)
        raise AssertionError("unreachable: the last round returns or raises")

    def _unreachable(self, exc: httpx.HTTPError, action: str) -> DeliveryError:
        return DeliveryError(
            f"cannot reach {self.forge} at {self.base_url.host} to {action}: "
            f"{self._redact(one_line(str(exc)) or type(exc).__name__)}"
        )

    def _check_same_origin(self, url: str, action: str) -> None:
        target = httpx.URL(url)
        if (target.scheme, target.host, target.port) != (
            self.base_url.scheme,
            self.base_url.host,
            self.base_url.port,
        ):
            raise DeliveryError(
                f"{self.forge}: refusing to follow a pagination link to {target.host} "
                f"while trying to {action}; the API is at {self.base_url.host}"
            )

    def _failure(self, response: httpx.Response, action: str) -> str:
        status = response.status_code
        said = self._message(response)
        answer = said if said.startswith(f"{status} ") else f"{status} {said}".strip()
        if status == 401:
            return (
                f"{self.forge} did not accept the token to {action} ({answer}): "
                "it is missing, invalid, expired or revoked"
            )
        if status == 403:
            return (
                f"{self.forge} refused to {action} ({answer}): the token lacks a permission "
                f"or scope on {self.repository}"
            )
        if status == 404:
            return (
                f"{self.forge} could not {action} ({answer}): {self.repository} does not "
                "exist or the token cannot see it"
            )
        if 300 <= status < 400:
            location = response.headers.get("location", "elsewhere")
            return (
                f"{self.forge} redirected the request to {action} to {location} ({status}): "
                "update the remote URL or the API URL"
            )
        if status >= 500:
            return f"{self.forge} failed to {action} ({answer}); try again later"
        return f"{self.forge} refused to {action} ({answer})"

    def _message(self, response: httpx.Response) -> str:
        return self._redact(error_message(response))

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")


def error_message(response: httpx.Response) -> str:
    """The forge's own explanation in an error answer, as one bounded line.

    GitHub: ``message`` plus each ``errors[].message`` (or field and code); GitLab: ``message``
    as a string, a list or a field-to-messages object, or OAuth's ``error_description``; Gitea:
    ``message``. Anything else (a proxy's HTML page, "Retry later"): the first line of text.
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return shorten(one_line(response.text.strip().splitlines()[0] if response.text else ""))
    if not isinstance(body, dict):
        return shorten(one_line(flatten(body)))
    parts = [flatten(body.get("message"))]
    errors = body.get("errors")
    if isinstance(errors, list):
        parts.extend(_github_error(error) for error in errors)
    parts.append(flatten(body.get("error_description") or body.get("error")))
    return shorten(one_line("; ".join(part for part in parts if part)))


def _github_error(error: object) -> str:
    if isinstance(error, dict):
        if error.get("message"):
            return flatten(error["message"])
        return " ".join(str(error[key]) for key in ("field", "code") if error.get(key))
    return flatten(error)


def flatten(value: object) -> str:
    """A message that may be a string, a list of strings or a field-to-messages mapping."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(flatten(item) for item in value if item is not None)
    if isinstance(value, dict):
        return "; ".join(f"{key} {flatten(item)}" for key, item in value.items())
    return str(value)


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def shorten(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def rate_limit_wait(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait before repeating the request, or ``None`` when it was not rate limited."""
    status = response.status_code
    headers = response.headers
    if status == 403:
        exhausted = headers.get("x-ratelimit-remaining") == "0"
        if not exhausted and "rate limit" not in response.text[:2000].lower():
            return None
    elif status != 429:
        return None
    now = time.time() if now is None else now
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        seconds = _retry_after_seconds(retry_after, now)
        if seconds is not None:
            return seconds
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        reset = headers.get(name)
        if reset is not None and reset.strip().isdigit():
            return max(0.0, int(reset) - now)
    return UNSPECIFIED_RATE_LIMIT_WAIT


def _retry_after_seconds(value: str, now: float) -> float | None:
    """``Retry-After`` is either seconds or an HTTP date (RFC 9110, section 10.2.3)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def link_next_page(response: httpx.Response) -> str | None:
    """GitHub's and Gitea's pagination: the ``Link`` header's ``rel="next"`` URL."""
    return response.links.get("next", {}).get("url")


def expect_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DeliveryError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise DeliveryError(f"{where}: expected a JSON list, got {type(value).__name__}")
    return value


def text_field(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise DeliveryError(f"{where}: the answer has no text field {key!r}")
    return value


def int_field(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DeliveryError(f"{where}: the answer has no number field {key!r}")
    return value


def optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def object_field(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    return expect_object(data.get(key), f"{where} {key}")
