from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tracker.collectors.base import (
    USER_AGENT,
    CollectContext,
    RateLimiter,
    RetryPolicy,
    make_client,
    parse_retry_after,
)
from tracker.config import load_settings
from tracker.errors import SourceUnreachableError, UpstreamError


def _ctx(sleeps: list[float]) -> CollectContext:
    return CollectContext(settings=load_settings(), state=None, sleep=sleeps.append)  # type: ignore[arg-type]


def _unreachable(message: str) -> tuple[list[str], httpx.MockTransport]:
    """Return the paths requested and a transport whose every request fails to connect."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError(message)

    return calls, httpx.MockTransport(handler)


def test_parse_retry_after_seconds_and_date() -> None:
    assert parse_retry_after("120") == 120.0
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 25 Nov 2026 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


def test_user_agent_timeout_and_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    ctx = _ctx([])
    with make_client(
        ctx,
        source="x",
        base_url="https://x.test",
        transport=httpx.MockTransport(handler),
        headers={"Authorization": "Bearer secret"},
    ) as client:
        client.get("/a")
        assert client.timeout.read == ctx.settings.http_timeout
    assert seen[0].headers["user-agent"] == USER_AGENT and USER_AGENT.startswith("tracker/")
    assert ctx.requests.value == 1


def test_truncated_body_and_reset_are_retried() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )
        if calls["n"] == 2:
            raise httpx.ReadError("[Errno 104] Connection reset by peer")
        return httpx.Response(200, json={"ok": True})

    sleeps: list[float] = []
    with make_client(
        _ctx(sleeps), source="x", base_url="https://x.test", transport=httpx.MockTransport(handler)
    ) as client:
        assert client.get("/").json() == {"ok": True}
    assert calls["n"] == 3 and len(sleeps) == 2


@pytest.mark.parametrize("check_json", [True, False])
def test_the_client_decoder_reads_json_bodies_and_its_errors_are_retried(check_json: bool) -> None:
    from tracker.collectors._http import json_body

    bodies = iter([b"cut", b"whole"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=next(bodies), headers={"content-type": "application/json"}
        )

    def decode(body: bytes) -> object:
        if body == b"cut":
            raise ValueError("cut short")
        return ("decoded", body)

    sleeps: list[float] = []
    with make_client(
        _ctx(sleeps),
        source="x",
        base_url="https://x.test",
        transport=httpx.MockTransport(handler),
        check_json=check_json,
        decode=decode,
    ) as client:
        response = client.get("/")
        if check_json:  # the decoder's ValueError: cut short, asked again
            assert len(sleeps) == 1
            assert json_body(response) == ("decoded", b"whole")
        else:  # no body check: the answer as it came, read by the same decoder
            assert sleeps == []
            with pytest.raises(ValueError, match="cut short"):
                json_body(response)
            assert json_body(client.get("/")) == ("decoded", b"whole")


def test_a_cut_json_body_is_retried_and_the_good_one_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from tracker.collectors import _http

    bodies = iter([b'{"releases": {"1.0"', b'{"releases": {"1.0": []}}'])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=next(bodies), headers={"content-type": "application/json"}
        )

    sleeps: list[float] = []
    with make_client(
        _ctx(sleeps),
        source="x",
        base_url="https://x.test",
        transport=httpx.MockTransport(handler),
        check_json=True,
    ) as client:
        response = client.get("/")
    assert len(sleeps) == 1  # the cut body was retried
    parses: list[bytes] = []
    monkeypatch.setattr(_http.json, "loads", lambda body: parses.append(body) or json.loads(body))
    assert _http.json_body(response) == {"releases": {"1.0": []}}
    assert parses == []  # the transport's check already decoded it


def test_post_is_not_retried_unless_allowed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    sleeps: list[float] = []
    with make_client(
        _ctx(sleeps), source="x", base_url="https://x.test", transport=httpx.MockTransport(handler)
    ) as client:
        assert client.post("/q", content=b"SELECT 1").status_code == 503
    assert sleeps == []
    with make_client(
        _ctx(sleeps),
        source="x",
        base_url="https://x.test",
        retry_post=True,
        transport=httpx.MockTransport(handler),
    ) as client:
        assert client.post("/q", content=b"SELECT 1").status_code == 503
    assert len(sleeps) == 4


def test_rate_limit_reset_header_is_honoured() -> None:
    responses = iter(
        [
            httpx.Response(
                403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000030"}
            ),
            httpx.Response(200, json={}),
        ]
    )
    sleeps: list[float] = []
    policy = RetryPolicy(retry_statuses=frozenset({403, 429, 500, 502, 503, 504}))
    ctx = _ctx(sleeps)
    ctx.now = lambda: datetime.fromtimestamp(1_000_000.0, UTC)  # the injected clock
    with make_client(
        ctx,
        source="x",
        base_url="https://x.test",
        policy=policy,
        transport=httpx.MockTransport(lambda r: next(responses)),
    ) as client:
        assert client.get("/").status_code == 200
    assert sleeps == [31.0]


def test_far_retry_after_is_not_slept() -> None:
    sleeps: list[float] = []
    with make_client(
        _ctx(sleeps),
        source="x",
        base_url="https://x.test",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(429, headers={"Retry-After": "86400"})
        ),
    ) as client:
        assert client.get("/").status_code == 429
    assert sleeps == []


def test_breaker_skips_unreachable_host() -> None:
    calls, transport = _unreachable("[Errno 111] Connection refused")
    sleeps: list[float] = []
    policy = RetryPolicy(retries=1, breaker_threshold=2)
    with make_client(
        _ctx(sleeps), source="x", base_url="https://x.test", policy=policy, transport=transport
    ) as client:
        for _ in range(2):
            with pytest.raises(SourceUnreachableError):
                client.get("/")
        with pytest.raises(SourceUnreachableError) as err:
            client.get("/third")
    assert len(calls) == 4  # two requests x (1 + 1 retry); the third never left
    # the skipped request names its own URL and the first failure's cause
    assert str(err.value) == (
        "x unreachable (cannot connect: connection refused; not tried after the first failure):"
        " https://x.test/third"
    )
    assert isinstance(err.value, UpstreamError)


def test_breaker_default_skips_the_source_after_its_first_unreachable_request() -> None:
    calls, transport = _unreachable("[Errno -2] Name or service not known")
    sleeps: list[float] = []
    with make_client(
        _ctx(sleeps), source="x", base_url="https://x.test", transport=transport
    ) as client:
        with pytest.raises(SourceUnreachableError) as first:
            client.get("/a")
        with pytest.raises(SourceUnreachableError) as second:
            client.get("/b")
    assert calls == ["/a"] and sleeps == []  # DNS failure: no retry, and /b never left
    assert (
        str(first.value)
        == "x unreachable (cannot connect: host name does not resolve): https://x.test/a"
    )
    assert second.value.url == "https://x.test/b" and not second.value.requested


def test_rate_limiter_spaces_calls() -> None:
    now = {"t": 0.0}
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now["t"] += s

    limiter = RateLimiter(30, 60.0, sleep=sleep, clock=lambda: now["t"])
    for _ in range(4):
        limiter.wait()
    assert sleeps == [2.0, 2.0, 2.0]


def test_dns_failure_is_not_retried_refused_is_retried_twice() -> None:
    sleeps: list[float] = []
    for message, tries, waits in [
        ("[Errno -3] Temporary failure in name resolution", 1, 0),
        ("[Errno 111] Connection refused", 3, 2),
    ]:
        sleeps.clear()
        calls, transport = _unreachable(message)
        with (
            make_client(
                _ctx(sleeps), source="x", base_url="https://x.test", transport=transport
            ) as client,
            pytest.raises(SourceUnreachableError),
        ):
            client.get("/")
        assert len(calls) == tries and len(sleeps) == waits
