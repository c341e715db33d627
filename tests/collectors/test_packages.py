"""The shared per-package loop: the failure rule, stops, and the client's unreachable breaker."""

from __future__ import annotations

import httpx

from tracker.catalog import Tool
from tracker.collectors._packages import PackageResult, PackageSource, collect_packages
from tracker.collectors.base import CollectContext, make_client
from tracker.config import load_settings
from tracker.errors import RateLimitedError, UpstreamError
from tracker.records import ToolBatch, ToolFailure, ToolOutcome

BASE = "https://pkg.test"
FRESH = PackageResult(counters=(("fresh", 1),))


def _source(client: httpx.Client, **kw: object) -> PackageSource[str]:
    def work(tool: Tool, package: str, prepared: str) -> PackageResult:
        response = client.get(f"/{package}")
        if response.status_code == 429:
            raise RateLimitedError("rate limited", source="t", url=f"{BASE}/{package}", status=429)
        if response.status_code != 200:
            raise UpstreamError("gone", source="t", url=f"{BASE}/{package}", status=404)
        return PackageResult(warnings=(f"{package} read",), counters=(("read", 1),))

    return PackageSource(
        name="t",
        url=lambda package: f"{BASE}/{package}",
        prepare=lambda tool, package: FRESH if package.startswith("fresh") else package,
        work=work,
        counters=("read", "fresh", "unused"),
        **kw,  # type: ignore[arg-type]
    )


def _run(handler: object, tools: list[Tool], **kw: object) -> tuple[list[ToolOutcome], int]:
    ctx = CollectContext(settings=load_settings(), state=None, sleep=lambda s: None)  # type: ignore[arg-type]
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    with make_client(ctx, source="t", base_url=BASE, transport=transport) as client:
        outcomes = list(collect_packages(_source(client, **kw), ctx, client, tools))
    return outcomes, ctx.requests.value


def _tool(tool_id: str, *packages: str) -> Tool:
    return Tool(id=tool_id, name=tool_id, skill="orchestration", pypi=packages)


def _answer(request: httpx.Request) -> httpx.Response:
    name = request.url.path.strip("/")
    status = {"gone": 404, "busy": 429}.get(name.split("-")[0], 200)
    return httpx.Response(status)


def test_a_tool_fails_only_when_no_package_succeeded() -> None:
    tools = [_tool("a", "ok", "gone"), _tool("b", "gone"), _tool("c", "fresh", "gone-2")]
    outcomes, requests = _run(_answer, tools)
    a, b, c = outcomes
    assert isinstance(a, ToolBatch) and a.warnings == ("ok read",)
    assert a.errors == ("t: HTTP 404 from https://pkg.test/gone: gone",)
    assert dict(a.counters) == {"read": 1, "fresh": 0, "unused": 0}
    assert isinstance(b, ToolFailure) and b.error == "t: HTTP 404 from https://pkg.test/gone: gone"
    assert isinstance(c, ToolBatch) and dict(c.counters)["fresh"] == 1  # settled without a request
    assert requests == 4


def test_a_stop_on_error_ends_the_requests_of_the_run() -> None:
    tools = [_tool("a", "busy"), _tool("b", "ok", "fresh")]
    outcomes, requests = _run(_answer, tools, stop_on=(RateLimitedError,))
    a, b = outcomes
    assert isinstance(a, ToolFailure) and "rate limited" in a.error
    assert isinstance(b, ToolBatch) and b.errors == (
        "not collected: t rate limited: https://pkg.test/ok",
    )
    assert requests == 5  # the 429 and the transport's 4 retries; "ok" is never asked


def test_an_unreachable_host_is_asked_once_and_every_package_names_its_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    outcomes, requests = _run(refuse, [_tool("a", "one", "two")], workers=2)
    [a] = outcomes
    assert isinstance(a, ToolFailure)
    assert a.error == (
        "not collected: t unreachable (cannot connect: connection refused): https://pkg.test/one; "
        "not collected: t unreachable (cannot connect: connection refused; not tried after the "
        "first failure): https://pkg.test/two"
    )
    assert requests == 3  # the first request and its two retries on a refused connection
