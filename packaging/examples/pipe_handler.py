#!/usr/bin/env python3
"""An evt-work co-process handler: evt-work --pipe -- python3 pipe_handler.py

evt-work starts this program once per --concurrency slot and keeps it running. It writes
one event per line (compact JSON) on our stdin and waits for one reply line on our stdout:

    {"status": "ok"}
    {"status": "retry", "error": "...", "category": "dependency", "retry_after_ms": 5000}
    {"status": "fail", "error": "...", "category": "data"}

Rules of thumb: one reply per event, in order, flushed at once; nothing else on stdout
(print logs to stderr, evt-work logs them with the event's fields); exit when stdin ends.
A reply that is not valid JSON, no reply within --timeout, or an exit means the event is
retried and this process replaced.

This example "backs up" payload.server: it fails permanently without one, asks for a retry
when payload.simulate is "busy", and keeps warm state (a connection cache, here a dict)
across events, which is why a co-process beats a new process per event.
"""
import json
import sys

connections = {}  # warm state: lives as long as the process
handled = 0


def handle(event):
    payload = event.get("payload") or {}
    server = payload.get("server")
    if not isinstance(server, str) or not server:
        return {"status": "fail", "error": "payload.server missing", "category": "data"}
    if payload.get("simulate") == "busy":
        return {"status": "retry", "error": server + " is busy", "category": "dependency",
                "retry_after_ms": 100}
    global handled
    handled += 1
    connections.setdefault(server, {"backups": 0})["backups"] += 1
    print("backed up %s (event %d of this process)" % (server, handled), file=sys.stderr,
          flush=True)
    return {"status": "ok"}


def main():
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # a bug here must not kill the warm process
            reply = {"status": "retry", "error": "%s: %s" % (type(e).__name__, e),
                     "category": "internal"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
