#!/usr/bin/python3
"""Network peers on 127.0.0.1 for the tests of vigie's network checks.

Each --SERVICE NAME[:CERT:KEY] starts one server on a free port of 127.0.0.1; once all
listen, PORT_FILE gets {"NAME": port, ...} (written through a rename). Services:

  https NAME:CERT:KEY / http NAME   an HTTP/1.1 server (below)
  tls NAME:CERT:KEY                 TLS at once, then a greeting line and close
  imap NAME:CERT:KEY                IMAP4rev1 with STARTTLS (RFC 3501, RFC 2595)
  pop3 NAME:CERT:KEY                POP3 with STLS (RFC 1939, RFC 2595)
  silent NAME                       accepts connections and never says a word

HTTP paths: / (200, a town hall's home page), /error (500), /slow?ms=N (200 after N
ms), /loop (302 to itself), /moved (301 to /), anything else 404. One request per
connection (Connection: close).
"""
import argparse
import asyncio
import json
import os
import ssl
from urllib.parse import urlsplit, parse_qs

HOME = (b"<html><head><title>Mairie d'Onesse-et-Laharie</title></head>"
        b"<body><h1>Bienvenue a la mairie</h1></body></html>")


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def http_handler(reader, writer):
    try:
        request = await reader.readline()
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
        parts = request.decode("latin-1").split()
        target = urlsplit(parts[1] if len(parts) > 1 else "/")
        status, reason, headers, body = 404, "Not Found", [], b"not found"
        if target.path == "/":
            status, reason, body = 200, "OK", HOME
        elif target.path == "/error":
            status, reason, body = 500, "Internal Server Error", b"database unreachable"
        elif target.path == "/slow":
            delay = int(parse_qs(target.query).get("ms", ["1000"])[0])
            await asyncio.sleep(delay / 1000)
            status, reason, body = 200, "OK", HOME
        elif target.path == "/loop":
            status, reason, headers, body = 302, "Found", ["Location: /loop"], b""
        elif target.path == "/moved":
            status, reason, headers, body = 301, "Moved Permanently", ["Location: /"], b""
        head = ["HTTP/1.1 %d %s" % (status, reason), "Content-Type: text/html",
                "Content-Length: %d" % len(body), "Connection: close"] + headers
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def tls_handler(reader, writer):
    try:
        writer.write(b"vigie test TLS service\r\n")
        await writer.drain()
        await reader.read(1024)
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


def imap_handler(context):
    async def handle(reader, writer):
        tls = False
        try:
            writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] vigie test IMAP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    break
                words = line.decode("latin-1").split()
                if len(words) < 2:
                    writer.write(b"* BAD missing command\r\n")
                    continue
                tag, command = words[0].encode(), words[1].upper()
                if command == "CAPABILITY":
                    caps = b"IMAP4rev1 AUTH=PLAIN" if tls else b"IMAP4rev1 STARTTLS LOGINDISABLED"
                    writer.write(b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK CAPABILITY completed\r\n")
                elif command == "STARTTLS" and not tls:
                    writer.write(tag + b" OK Begin TLS negotiation now\r\n")
                    await writer.drain()
                    await writer.start_tls(context)
                    tls = True
                elif command == "NOOP":
                    writer.write(tag + b" OK NOOP completed\r\n")
                elif command == "LOGOUT":
                    writer.write(b"* BYE logging out\r\n" + tag + b" OK LOGOUT completed\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(tag + b" BAD command unknown or not allowed now\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
    return handle


def pop3_handler(context):
    async def handle(reader, writer):
        tls = False
        try:
            writer.write(b"+OK vigie test POP3 ready\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    break
                command = line.decode("latin-1").strip().split(" ")[0].upper()
                if command == "CAPA":
                    caps = b"USER\r\n" if tls else b"STLS\r\n"
                    writer.write(b"+OK Capability list follows\r\n" + caps + b".\r\n")
                elif command == "STLS" and not tls:
                    writer.write(b"+OK Begin TLS negotiation\r\n")
                    await writer.drain()
                    await writer.start_tls(context)
                    tls = True
                elif command == "NOOP":
                    writer.write(b"+OK\r\n")
                elif command == "QUIT":
                    writer.write(b"+OK bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"-ERR command unknown or not allowed now\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
    return handle


async def silent_handler(reader, writer):
    await reader.read()  # until the client gives up
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    for service in ("https", "http", "tls", "imap", "pop3", "silent"):
        parser.add_argument("--" + service, action="append", default=[])
    args = parser.parse_args()
    ports = {}
    servers = []

    async def start(name, handler, context=None):
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context, backlog=1024)
        servers.append(server)
        ports[name] = server.sockets[0].getsockname()[1]

    for spec in args.https:
        name, cert, key = spec.split(":")
        await start(name, http_handler, tls_context(cert, key))
    for name in args.http:
        await start(name, http_handler)
    for spec in args.tls:
        name, cert, key = spec.split(":")
        await start(name, tls_handler, tls_context(cert, key))
    for spec in args.imap:
        name, cert, key = spec.split(":")
        await start(name, imap_handler(tls_context(cert, key)))
    for spec in args.pop3:
        name, cert, key = spec.split(":")
        await start(name, pop3_handler(tls_context(cert, key)))
    for name in args.silent:
        await start(name, silent_handler)
    with open(args.port_file + ".tmp", "w") as out:
        json.dump(ports, out)
    os.rename(args.port_file + ".tmp", args.port_file)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
