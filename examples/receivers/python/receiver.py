"""A minimal Biotz IoT webhook receiver: Python standard library only.

Run:  BIOTZ_WEBHOOK_SECRET=whsec_... PORT=8000 python3 receiver.py
Then: POST http://127.0.0.1:$PORT/webhook. It listens on 127.0.0.1 only; Biotz calls https://
      URLs alone, so in production put a TLS-terminating proxy in front of it.

Each request is verified on its raw body bytes before the JSON is parsed, deduplicated on
Biotz-IoT-Event-Id, answered at once (200, or 400 naming the failed rule) and handled afterwards
on a worker thread, so slow work never makes Biotz time out and retry.
"""

import json
import os
import queue
import sys
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from biotz_webhook import VerificationError, verify

MAX_BODY = 1024 * 1024
SEEN_CAPACITY = 10_000


class RecentEventIds:
    """The ids of the last `capacity` events, oldest forgotten first."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.ids = OrderedDict()
        self.lock = threading.Lock()

    def add(self, event_id):
        """Records the id; returns False if it was already there."""
        with self.lock:
            if event_id in self.ids:
                return False
            self.ids[event_id] = None
            if len(self.ids) > self.capacity:
                self.ids.popitem(last=False)
            return True


def handle_event(event):
    """Your work goes here. It runs after the answer was sent."""
    print(f"event {event.get('id')} {event.get('type')}", flush=True)


def worker(events):
    while True:
        event = events.get()
        try:
            handle_event(event)
        except Exception as error:  # keep the worker alive whatever one event does
            print(f"handling failed: {error!r}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    # Set in main().
    secret = ""
    seen = RecentEventIds(SEEN_CAPACITY)
    events = queue.Queue()

    def do_POST(self):
        if self.path != "/webhook":
            return self.answer(404, {"error": {"code": "not_found", "message": "POST /webhook"}})
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            return self.answer(400, {"error": {"code": "invalid_length",
                                               "message": "send a Content-Length"}})
        length = int(length)
        if length > MAX_BODY:
            return self.answer(413, {"error": {"code": "body_too_large", "message": "over 1 MiB"}})
        raw = self.rfile.read(length)
        try:
            verify(self.secret, self.headers.get("Biotz-IoT-Signature", ""), raw)
        except VerificationError as error:
            return self.answer(400, {"error": {"code": error.code, "message": str(error)}})
        # Only now is the body trusted enough to parse.
        try:
            event = json.loads(raw)
        except ValueError:
            return self.answer(400, {"error": {"code": "invalid_json", "message": "not JSON"}})
        event_id = self.headers.get("Biotz-IoT-Event-Id")
        if not event_id:
            return self.answer(400, {"error": {"code": "no_event_id",
                                               "message": "no Biotz-IoT-Event-Id header"}})
        if not self.seen.add(event_id):
            return self.answer(200, {"received": True, "duplicate": True})
        self.events.put(event)
        self.answer(200, {"received": True})

    def answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main():
    secret = os.environ.get("BIOTZ_WEBHOOK_SECRET")
    if not secret:
        sys.exit("set BIOTZ_WEBHOOK_SECRET to the webhook's secret (whsec_...)")
    port = int(os.environ.get("PORT", "8000"))
    Handler.secret = secret
    threading.Thread(target=worker, args=(Handler.events,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on http://127.0.0.1:{port}/webhook", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
