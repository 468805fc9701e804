"""A counting proxy on 127.0.0.1 in front of a local stack: an independent count of mutating AWS calls.

sdcli counts its own calls (``mutating_calls`` in the deploy JSON). This counts what actually reached the
control plane, classified from the wire: DynamoDB's ``X-Amz-Target``, the query protocol's ``Action`` (IAM,
STS), and the HTTP method for the REST services (Lambda, API Gateway). Reads are Get*/Describe*/List*/
BatchGet*/Scan/Query and GET/HEAD; everything else mutates.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.harness import require_loopback

READ_OPERATIONS = ("Get", "Describe", "List", "BatchGet", "Scan", "Query")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    operation: str
    mutating: bool


def classify(method: str, path: str, headers: Any, body: bytes) -> Call:
    """Name the AWS operation of one request and say whether it changes anything."""
    target = headers.get("X-Amz-Target")
    if target:
        operation = target.rsplit(".", 1)[-1]
        return Call(method, path, operation, not operation.startswith(READ_OPERATIONS))
    if "x-www-form-urlencoded" in (headers.get("Content-Type") or "") and body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action:
            return Call(method, path, action, not action.startswith(READ_OPERATIONS))
    return Call(method, path, f"{method} {urlsplit(path).path}", method not in ("GET", "HEAD"))


class CountingProxy:
    """Forwards every request to ``upstream`` unchanged and records it; use as a context manager."""

    def __init__(self, upstream: str) -> None:
        require_loopback(upstream)
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:  # quiet
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                call = classify(self.command, self.path, self.headers, body)
                with proxy._lock:
                    proxy.calls.append(call)
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-proxy", daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> list[Call]:
        """The calls seen since the last take."""
        with self._lock:
            calls, self.calls = self.calls, []
        return calls
