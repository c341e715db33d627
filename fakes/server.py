"""One loopback HTTP server per upstream, serving the emulators and the faults."""

from __future__ import annotations

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.core import (
    BLOCK_TIMEOUT,
    LOGGED_HEADERS,
    SOURCES,
    FaultRegistry,
    Request,
    RequestLog,
    RequestRecord,
    Response,
)
from fakes.demand import HnEmulator, StackExchangeEmulator
from fakes.downloads import ApacheEmulator, ClickhouseEmulator, PypistatsEmulator
from fakes.github import GithubEmulator
from fakes.pypi import PypiEmulator

# ---- HTTP plumbing ---------------------------------------------------------------------------


HOST = "127.0.0.1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, source: str, fake: FakeUpstream) -> None:
        self.source = source
        self.fake = fake
        super().__init__((HOST, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up (or a reset we caused) is not worth a traceback on stderr
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are separate writes: without TCP_NODELAY each answer waits ~40 ms for
    # the client's delayed ACK (Nagle)
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces httpd's access log

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake, source = self.server.fake, self.server.source
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        port = self.server.server_address[1]
        req = Request(
            source=source,
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            base=f"http://{HOST}:{port}",
        )
        record = RequestRecord(
            source=source,
            method=self.command,
            path=split.path,
            query=split.query,
            headers={k: headers[k] for k in LOGGED_HEADERS if k in headers},
            had_token=req.token is not None,
            had_authorization="authorization" in headers,
        )
        fake.log.append(record)
        fault = fake.faults.take(source, self.command, self.path)
        if fault is not None:
            record.fault = fault.kind
        if fault is not None and fault.kind == "block":
            fault.arrived.set()
            fault.release.wait(BLOCK_TIMEOUT)
            fault = None
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "status":
            response = Response(fault.status, fault.body, dict(fault.headers))
        else:
            response = fake.emulators[source].handle(req)
        if fault is not None and fault.kind == "cut_json":
            response.body = response.body[: len(response.body) // 2]
        record.status = response.status
        self._send(response, truncate=fault is not None and fault.kind == "truncate")

    def _send(self, response: Response, *, truncate: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        bodyless = response.status in (204, 304) or self.command == "HEAD"
        if response.status != 304:
            self.send_header("Content-Length", str(len(response.body)))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if bodyless:
            return
        if truncate:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class FakeUpstream:
    """Every upstream on loopback: ``github``, ``pypi``, ``pypistats``, ``clickpy``, ``apache``,
    ``hn`` (Algolia HN Search) and ``stackoverflow`` (Stack Exchange API)."""

    def __init__(self) -> None:
        self.github = GithubEmulator()
        self.pypi = PypiEmulator()
        self.pypistats = PypistatsEmulator()
        self.clickhouse = ClickhouseEmulator()
        self.apache = ApacheEmulator()
        self.hn = HnEmulator()
        self.stackexchange = StackExchangeEmulator()
        self.emulators: dict[str, Any] = {
            "github": self.github,
            "pypi": self.pypi,
            "pypistats": self.pypistats,
            "clickpy": self.clickhouse,
            "apache": self.apache,
            "hn": self.hn,
            "stackoverflow": self.stackexchange,
        }
        self.faults = FaultRegistry()
        self.log = RequestLog()
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> FakeUpstream:
        """Start one server per upstream on 127.0.0.1 (random ports)."""
        for source in SOURCES:
            server = _Server(source, self)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-{source}",
                daemon=True,
            )
            thread.start()
            self._servers[source] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Release blocked requests and stop every server."""
        self.faults.clear()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def take_offline(self, source: str) -> None:
        """Close ``source``'s listening socket: connections are refused from now on."""
        server = self._servers[source]
        server.shutdown()
        server.server_close()

    def url(self, source: str) -> str:
        """Return the base URL of ``source``'s server (no trailing slash)."""
        return f"http://{HOST}:{self._servers[source].server_address[1]}"

    def env(self, *, github_enterprise: bool = False) -> dict[str, str]:
        """Return the TRACKER_*_URL variables pointing at the fake.

        The GraphQL URL is left to tracker's derivation (``<base>/graphql``, or
        ``/api/graphql`` for an Enterprise-style ``/api/v3`` base).
        """
        github = self.url("github") + ("/api/v3" if github_enterprise else "")
        return {
            "TRACKER_GITHUB_API_URL": github,
            "TRACKER_PYPI_URL": self.url("pypi"),
            "TRACKER_PYPISTATS_URL": self.url("pypistats"),
            "TRACKER_CLICKHOUSE_URL": self.url("clickpy"),
            "TRACKER_APACHE_URL": self.url("apache") + "/dist",
            "TRACKER_HN_URL": self.url("hn"),
            "TRACKER_STACKEXCHANGE_URL": self.url("stackoverflow"),
        }

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
