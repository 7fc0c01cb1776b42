"""The HTTP plumbing: a threading server whose handler turns requests into Request objects."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crm_books.json_text import json_bytes
from zoho_sandbox.messages import Request, Response

if TYPE_CHECKING:
    from zoho_sandbox.server import SandboxServer


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    sandbox: SandboxServer


def http_server(sandbox: SandboxServer, host: str, port: int) -> HTTPServer:
    """A bound server that hands every request to `sandbox.respond`."""
    httpd = HTTPServer((host, port), Handler)
    httpd.sandbox = sandbox
    return httpd


class Handler(BaseHTTPRequestHandler):
    """Hands each request to the sandbox and writes its Response (JSON unless bytes)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: HTTPServer
    server_version = "ZGS"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and benchmarks make hundreds of thousands of calls

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = split.path.rstrip("/") or "/"
        self._send(
            self.server.sandbox.respond(Request(method, path, split.query, self.headers, body))
        )

    def _send(self, resp: Response) -> None:
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if resp.status in (204, 304):
            self.end_headers()
            return
        payload = resp.body if isinstance(resp.body, bytes) else json_bytes(resp.body, resp.plain)
        if "Content-Type" not in resp.headers:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
