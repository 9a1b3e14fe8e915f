"""A real SMTP server for Slipway's mail tests (aiosmtpd), on loopback only.

Usage: sink.py FOLDER PORT [--auth USER:PASSWORD] [--tls-cert CERT --tls-key KEY]
               [--tls starttls|implicit]

Writes FOLDER/port once it listens. Each accepted message becomes
FOLDER/msg-<n>.json: the envelope, the parsed headers and parts, the raw
message and any defects Python's email parser found. The file FOLDER/mode
(re-read for every command) makes it misbehave on demand:
  accept    (default) accept everything
  reject    answer 550 to RCPT TO (a permanent refusal)
  tempfail  answer 451 to RCPT TO (a temporary one)
  hang      never answer RCPT TO (the client times out)
"""

import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult

FOLDER = sys.argv[1]
PORT = int(sys.argv[2])
OPTIONS = dict(zip(sys.argv[3::2], sys.argv[4::2]))
COUNTER = [0]


def mode():
    try:
        with open(os.path.join(FOLDER, "mode")) as f:
            return f.read().strip() or "accept"
    except FileNotFoundError:
        return "accept"


def part_text(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    return None if part is None else part.get_content()


def summary(server, envelope, session):
    raw = envelope.original_content or envelope.content
    if isinstance(raw, str):
        raw = raw.encode()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [repr(d) for d in message.defects]
    for part in message.walk():
        defects += [repr(d) for d in part.defects]
    return {
        "mail_from": envelope.mail_from,
        "rcpt_tos": envelope.rcpt_tos,
        "auth_user": session.auth_data,
        "tls": server.transport.get_extra_info("ssl_object") is not None,
        "header_names": [name for name, _ in message.raw_items()],
        "message_id": message["Message-ID"],
        "from": message["From"],
        "to": message["To"],
        "subject": message["Subject"],
        "content_type": message.get_content_type(),
        "text": part_text(message, "plain"),
        "html": part_text(message, "html"),
        "defects": defects,
        "raw": raw.decode("utf-8", "replace"),
    }


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        current = mode()
        if current == "reject":
            return "550 5.1.1 mailbox unavailable (test sink)"
        if current == "tempfail":
            return "451 4.3.0 try again later (test sink)"
        if current == "hang":
            await asyncio.sleep(3600)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        COUNTER[0] += 1
        name = os.path.join(FOLDER, "msg-%06d-%d.json" % (COUNTER[0], os.getpid()))
        with open(name + ".tmp", "w") as f:
            json.dump(summary(server, envelope, session), f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    expected = OPTIONS.get("--auth")
    if expected is None:
        return AuthResult(success=False, handled=False)
    user, password = expected.split(":", 1)
    login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
    given = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
    if login == user and given == password:
        return AuthResult(success=True, auth_data=login)
    return AuthResult(success=False, handled=False)


def tls_context():
    if "--tls-cert" not in OPTIONS:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(OPTIONS["--tls-cert"], OPTIONS["--tls-key"])
    return context


async def main():
    loop = asyncio.get_running_loop()
    context = tls_context()
    auth = "--auth" in OPTIONS

    def factory():
        return SMTP(
            Sink(),
            hostname="sink.test",
            authenticator=authenticator if auth else None,
            auth_required=auth,
            auth_require_tls=False,
            tls_context=context if not implicit else None,
            require_starttls=context is not None and not implicit,
        )

    implicit = OPTIONS.get("--tls") == "implicit"
    server = await loop.create_server(
        factory,
        host="127.0.0.1",
        port=PORT,
        reuse_address=True,
        ssl=context if implicit else None,
    )
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(FOLDER, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(FOLDER, "port.tmp"), os.path.join(FOLDER, "port"))
    async with server:
        await server.serve_forever()


asyncio.run(main())
