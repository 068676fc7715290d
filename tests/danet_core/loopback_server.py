"""A file server on 127.0.0.1 for the download tests: Range requests, a cut connection, a stall, 404.

Each route maps a path to (body, behaviour). Behaviours: "ok" (honours Range), "cut-once" (the first
request sends half the body and closes the connection, later ones are served normally), "stall" (sends
the headers and a few bytes, then waits until the test ends), "no-range" (ignores Range). Unknown paths
get 404. Every request's Range header is recorded in ``server.ranges``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?")[0])
        rng = self.headers.get("Range")
        self.server.ranges.append(rng)
        if route is None:
            self.send_error(404, "Not Found")
            return
        body, behaviour = route
        start = int(rng.split("=")[1].split("-")[0]) if rng and behaviour != "no-range" else 0
        if start >= len(body) and start:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if behaviour == "stall":
            self.wfile.write(body[:10])
            self.wfile.flush()
            self.server.release.wait(30)
            return
        if behaviour == "cut-once" and not self.server.cut_done.is_set():
            self.server.cut_done.set()
            self.wfile.write(body[start : start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.ranges: list[str | None] = []
        self.cut_done = threading.Event()
        self.release = threading.Event()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
