"""A calendar feed over http whose answer (status, body) a test sets on the class."""

from __future__ import annotations

import http.server


class FeedHandler(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: object) -> None:
        pass
