"""``read_response``: the transport's own HTTP/1.x response reader, on a socket pair."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading

import pytest

from tracefix.sdk._worker import read_response


def answer(raw: bytes, *, close: bool = False) -> tuple[int, str | None, str | None, bool, bytes]:
    """Feed ``raw`` in small pieces; what ``read_response`` made of it, and what followed."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)

    def feed() -> None:
        for start in range(0, len(raw), 7):
            theirs.sendall(raw[start : start + 7])
        if close:
            theirs.shutdown(socket.SHUT_WR)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        response, will_close = read_response(ours)
        writer.join()
        theirs.sendall(b"next")
        after = ours.recv(16)
    finally:
        writer.join()
        ours.close()
        theirs.close()
    return response.status, response.retry_after, response.rate_limits, will_close, after


def test_content_length_keeps_the_connection() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    assert answer(raw) == (200, None, None, False, b"next")


def test_chunked_body_and_trailers() -> None:
    raw = (
        b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
        b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    assert answer(raw) == (429, "7", None, False, b"next")


def test_continue_is_skipped_and_repeated_headers_join() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nX-Sentry-Rate-Limits: 60:error\r\n"
        b"x-sentry-rate-limits: 10::org\r\ncontent-length: 0\r\n\r\n"
    )
    assert answer(raw) == (200, None, "60:error, 10::org", False, b"next")


def test_close_and_http_1_0() -> None:
    raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert answer(raw)[3] is True
    raw = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert answer(raw)[3] is True
    raw = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
    assert answer(raw)[3] is False


def test_body_without_length_runs_to_the_close() -> None:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    theirs.sendall(b"HTTP/1.1 500 Oops\r\n\r\nsome body")
    theirs.shutdown(socket.SHUT_WR)
    response, will_close = read_response(ours)
    assert (response.status, will_close) == (500, True)
    ours.close()
    theirs.close()


def test_bytes_past_the_response_close_the_connection() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra"
    assert answer(raw)[3] is True


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", ConnectionResetError),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", ConnectionResetError),
        (b"SSH-2.0-OpenSSH\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http.client.HTTPException),
    ],
)
def test_malformed_or_cut_short(raw: bytes, error: type[Exception]) -> None:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    theirs.sendall(raw)
    theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(error):
        read_response(ours)
    ours.close()
    theirs.close()


def test_an_endless_head_is_refused() -> None:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)

    def feed() -> None:
        with contextlib.suppress(OSError):
            theirs.sendall(b"HTTP/1.1 200 OK\r\n" + b"a" * 70000)

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(http.client.HTTPException):
        read_response(ours)
    ours.close()
    writer.join()
    theirs.close()
