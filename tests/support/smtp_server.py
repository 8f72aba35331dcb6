#!/usr/bin/python3
"""An SMTP server on loopback for vigie's tests, on Debian's python3-aiosmtpd.

Every message accepted is written whole (headers and MIME body, as received) to
MAILDIR/NNNNNN.eml, through a temporary file and a rename so that a reader never
sees half a message. The listening port is written to PORT_FILE once it accepts.
Options make it demand STARTTLS, demand a login, or refuse every recipient, or hold
its answer to the first message (once written) until a file appears, so that a test
acts while the sender waits for it.
"""
import argparse
import asyncio
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, maildir, refuse, hold_until):
        self.maildir = maildir
        self.refuse = refuse
        self.hold_until = hold_until
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.maildir, "%06d.eml" % self.count)
        content = envelope.original_content or envelope.content
        with open(name + ".tmp", "wb") as out:
            out.write(content)
        os.rename(name + ".tmp", name)
        if self.hold_until and self.count == 1:
            # Bounded: 30 s at most, then the answer goes anyway.
            for _ in range(1500):
                if os.path.exists(self.hold_until):
                    break
                await asyncio.sleep(0.02)
        return "250 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--refuse", action="store_true")
    parser.add_argument("--hold-first-until")
    args = parser.parse_args()

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == args.user.encode()
              and auth_data.password == args.password.encode())
        return AuthResult(success=ok, handled=False)

    handler = Handler(args.maildir, args.refuse, args.hold_first_until)

    def factory():
        return SMTP(handler, hostname="vigie-test-smtp", tls_context=context,
                    require_starttls=context is not None,
                    authenticator=authenticator if args.user else None,
                    auth_required=bool(args.user), auth_require_tls=context is not None)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(factory, host="127.0.0.1", port=0))
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as out:
        out.write("%d\n" % port)
    os.rename(args.port_file + ".tmp", args.port_file)
    loop.run_forever()


if __name__ == "__main__":
    main()
