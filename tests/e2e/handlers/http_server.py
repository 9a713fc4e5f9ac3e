#!/usr/bin/env python3
"""A tiny HTTP endpoint for the --http tests: python3 http_server.py PORT_FILE LOG_FILE

Listens on 127.0.0.1 and a free port (written to PORT_FILE), answers every POST by the
event's payload.mode, and appends one JSON line per request to LOG_FILE: path, headers,
body. Modes: ok (200), fail (422), auth (401), flaky (503 with Retry-After: 1 the first
time an event id is seen, then 200), slow (sleeps 3 s, then 200).
"""
import http.server
import json
import os
import sys
import threading
import time

port_file, log_file = sys.argv[1], sys.argv[2]
seen = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as evt-work expects

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        event = json.loads(body)
        mode = event.get("payload", {}).get("mode", "ok")
        with lock:
            n = seen.get(event["event_id"], 0) + 1
            seen[event["event_id"]] = n
            with open(log_file, "a") as log:
                log.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                      "body": body.decode(), "client_port":
                                      self.client_address[1]}) + "\n")
        status, extra, text = 200, {}, "ok"
        if mode == "fail":
            status, text = 422, "order 42 is unknown"
        elif mode == "auth":
            status, text = 401, "bad token"
        elif mode == "flaky" and n == 1:
            status, extra, text = 503, {"Retry-After": "1"}, "warming up"
        elif mode == "slow":
            time.sleep(3)
        data = text.encode()
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
