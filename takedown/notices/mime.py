"""Build the exact bytes of an outgoing message, optionally OpenPGP-signed.

The message is built once, when the notice is composed, and stored in the
outbox; Django's mail backend then sends those bytes unchanged (see
``StoredEmail``), so a retry after an outage is byte-for-byte the same
message with the same Message-ID.
"""

from __future__ import annotations

import email.policy
import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr
from typing import Any

from django.core.mail import EmailMessage as DjangoEmailMessage

POLICY = email.policy.SMTP.clone(max_line_length=78)


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


@dataclass
class Outgoing:
    from_addr: str
    from_name: str
    to: list[str]
    subject: str
    text: str
    message_id: str
    date: Any  # aware datetime
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)


def new_message_id(idstring: str, from_addr: str) -> str:
    domain = from_addr.rpartition("@")[2] or "localhost"
    return f"<{idstring}.{secrets.token_hex(8)}@{domain}>"


class SigningError(RuntimeError):
    pass


def _body_entity(out: Outgoing) -> EmailMessage:
    body = EmailMessage(policy=POLICY)
    # Quoted-printable keeps the text readable in raw form and is 7-bit clean,
    # which PGP/MIME requires of the signed part.
    body.set_content(out.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    for att in out.attachments:
        body.add_attachment(
            att.content, maintype=att.maintype, subtype=att.subtype, filename=att.filename
        )
    return body


def _headers(out: Outgoing) -> EmailMessage:
    head = EmailMessage(policy=POLICY)
    head["From"] = formataddr((out.from_name, out.from_addr))
    head["To"] = ", ".join(out.to)
    head["Subject"] = out.subject
    head["Date"] = format_datetime(out.date)
    head["Message-ID"] = out.message_id
    if out.in_reply_to:
        head["In-Reply-To"] = out.in_reply_to
    if out.references:
        head["References"] = " ".join(out.references)
    for name, value in out.extra_headers.items():
        head[name] = value
    return head


def build_message(out: Outgoing, *, gpg_sign: Any = None) -> bytes:
    """The whole RFC 5322 message with CRLF line ends.

    ``gpg_sign`` is a callable ``bytes -> ascii-armored detached signature``;
    with it the body becomes PGP/MIME ``multipart/signed`` (RFC 3156).
    """
    body = _body_entity(out)
    head = _headers(out)
    if gpg_sign is None:
        for name, value in head.items():
            body[name] = value
        return body.as_bytes(policy=POLICY)
    del body["MIME-Version"]
    signed_part = body.as_bytes(policy=POLICY)
    signature = gpg_sign(signed_part)
    boundary = "=_tkd_signed_" + secrets.token_hex(12)
    head["MIME-Version"] = "1.0"
    head["Content-Type"] = (
        f'multipart/signed; micalg="pgp-sha256"; protocol="application/pgp-signature"; '
        f'boundary="{boundary}"'
    )
    header_bytes = b"".join(POLICY.fold_binary(k, v) for k, v in head.items()) + b"\r\n"
    sig = signature.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")
    return b"".join(
        [
            header_bytes,
            b"This is an OpenPGP/MIME signed message (RFC 3156).\r\n",
            f"--{boundary}\r\n".encode(),
            signed_part,
            f"\r\n--{boundary}\r\n".encode(),
            b'Content-Type: application/pgp-signature; name="signature.asc"\r\n',
            b"Content-Description: OpenPGP digital signature\r\n\r\n",
            sig,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


def gpg_signer(*, home: str, key: str, passphrase: str = "") -> Any:
    """A signing callable for ``build_message`` using python-gnupg."""
    import gnupg

    gpg = gnupg.GPG(gnupghome=home or None)

    def sign(data: bytes) -> str:
        result = gpg.sign(
            data,
            keyid=key,
            passphrase=passphrase or None,
            detach=True,
            binary=False,
            extra_args=["--digest-algo", "SHA256", "--pinentry-mode", "loopback"],
        )
        if not result.data:
            raise SigningError(
                f"gpg could not sign with key {key!r}: {result.status or 'no output'}"
            )
        return str(result)

    return sign


class _StoredMessage(Message):
    """A parsed message whose serialisation is the stored bytes, untouched."""

    stored: bytes = b""

    def as_bytes(self, unixfrom: bool = False, policy: Any = None, linesep: str = "\n") -> bytes:
        raw = self.stored.replace(b"\r\n", b"\n")
        return raw.replace(b"\n", linesep.encode()) if linesep != "\n" else raw

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy: Any = None) -> str:
        return self.as_bytes().decode("ascii", "replace")


class StoredEmail(DjangoEmailMessage):
    """Hands pre-built bytes to any Django mail backend.

    Django's backends call ``message()`` and serialise what it returns; here
    that is the outbox's stored bytes, so nothing is re-encoded on a retry.
    """

    def __init__(self, *, raw: bytes, from_addr: str, to: list[str]) -> None:
        super().__init__(subject="", body="", from_email=from_addr, to=to)
        self.raw = raw

    def message(self, *, policy: Any = None) -> Any:
        parsed = email.message_from_bytes(self.raw, _class=_StoredMessage)
        parsed.stored = self.raw
        return parsed
