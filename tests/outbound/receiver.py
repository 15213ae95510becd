"""A real webhook receiver on loopback that answers from a script of status codes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    url: str
    script: list[int]
    default: int
    got: list[Received] = field(default_factory=list)


@contextmanager
def receiver(script: list[int], default: int = 200, delay: float = 0.0) -> Iterator[Receiver]:
    """Answers the n-th request with ``script[n]``, then ``default``, after ``delay`` s."""
    state = Receiver("", list(script), default)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                n = len(state.got)
                code = state.script[n] if n < len(state.script) else state.default
                state.got.append(Received(dict(self.headers), body, code))
            if delay:
                time.sleep(delay)
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()
