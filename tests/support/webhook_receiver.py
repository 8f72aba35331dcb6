#!/usr/bin/python3
"""A webhook receiver on loopback for vigie's tests (Python's http.server).

Each POST is appended as one JSON line ({"time": ms, "path", "headers", "body"}) to
LOG, flushed before the answer goes out, so that a test reading LOG after its
sender got an answer sees the request. The listening port is written to PORT_FILE
once it accepts. With --tls-cert/--tls-key it speaks HTTPS; --fail-first N answers
500 to the first N requests, --always-fail to every one; a request to a --hold-path
is logged with status 0 and never answered: the receiver waits until its sender
closes the connection (gives up, or dies), as a peer that hangs; --delay-ms N answers
every request N ms after it arrived, as a slow peer.
"""
import argparse
import http.server
import json
import os
import ssl
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--always-fail", action="store_true")
    parser.add_argument("--hold-path", action="append", default=[])
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    lock = threading.Lock()
    state = {"count": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8", "replace")
            held = self.path in args.hold_path
            with lock:
                state["count"] += 1
                failing = args.always_fail or state["count"] <= args.fail_first
                with open(args.log, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"time": int(time.time() * 1000),
                                          "path": self.path,
                                          "headers": dict(self.headers.items()),
                                          "body": body,
                                          "status": 0 if held else
                                          500 if failing else 200}) + "\n")
                    out.flush()
            if held:
                # No answer: read until the sender closes (EOF, or a reset when it dies).
                try:
                    while self.rfile.read(1):
                        pass
                except OSError:
                    pass
                self.close_connection = True
                return
            if args.delay_ms > 0:
                time.sleep(args.delay_ms / 1000.0)
            answer = b'{"error": "receiver down"}' if failing else b"ok"
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, fmt, *values):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as out:
        out.write("%d\n" % server.server_address[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
