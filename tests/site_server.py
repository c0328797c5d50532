"""The fixture website (`tests/site/`), served on 127.0.0.1 on a free port, quietly."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SITE_DIR = Path(__file__).resolve().parent / "site"


_loads: Counter[str] = Counter()
_loads_lock = threading.Lock()


def flaky_page(key: str, loads: int) -> bytes:
    """`/flaky/<key>`: a page that fails every other load of its key, the first included (its `#state` says `broken`,
    then `ok`, then `broken`...): each test picks a key of its own, so tests in parallel never share the count."""
    state = "broken" if loads % 2 == 1 else "ok"
    return (f"<!doctype html><title>flaky {key}</title><h1>Flaky page</h1>"
            f"<p id='load'>load {loads}</p><p id='state'>{state}</p>").encode()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if not self.path.startswith("/flaky/"):
            super().do_GET()
            return
        key = self.path[len("/flaky/"):].split("?", 1)[0]
        with _loads_lock:
            _loads[key] += 1
            loads = _loads[key]
        body = flaky_page(key, loads)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_site(directory: Path = SITE_DIR) -> Iterator[str]:
    """Serve `directory` for the duration of the block; yields the base URL, e.g. http://127.0.0.1:40123."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fixture-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
