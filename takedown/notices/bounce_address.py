"""Envelope senders that name one notice and one recipient, signed (VERP).

Each outgoing notice is handed to the mail server once per recipient, with the
envelope sender ``b.<notice>.<recipient tag>.<signature>@<bounce domain>``.
A delivery status notification goes to the envelope sender (RFC 5321 4.5.5),
so a bounce arriving at such an address says, by construction, which notice
and which recipient failed, whatever its body says.

The signature is an HMAC of the service's secret key (``salted_hmac``, as
healthchecks signs its bounce ids), cut to 16 hex digits so that the local
part stays far below the 64 characters RFC 5321 allows. The recipient tag is an
HMAC of the address too: the address itself never appears (the envelope sender
shows in the ``Return-Path`` of every copy), and a recipient who reads its own
``Return-Path`` learns nothing about the other recipients' addresses.

Without ``TAKEDOWN_BOUNCE_DOMAIN`` nothing is signed: notices go out with
``TAKEDOWN_NOTICE_FROM`` as envelope sender, as before, and bounces are matched
by the Message-ID of ours they quote (see ``docs/notices.md``).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import salted_hmac

_SALT = "takedown.notices.bounce_address"
_LOCAL = re.compile(r"^b\.(\d{1,12})\.([0-9a-f]{8})\.([0-9a-f]{16})$")


@dataclass(frozen=True)
class BounceTarget:
    """What a signed envelope sender names: a notice, and a tag of one of its recipients."""

    notice_id: int
    recipient_tag: str

    def recipient_in(self, addresses: list[str]) -> str | None:
        """The address among ``addresses`` this tag names (compared without case)."""
        for address in addresses:
            if hmac.compare_digest(recipient_tag(address), self.recipient_tag):
                return address.lower()
        return None


def recipient_tag(address: str) -> str:
    return salted_hmac(
        _SALT + ".recipient", address.strip().lower(), algorithm="sha256"
    ).hexdigest()[:8]


def _signature(notice_id: int, tag: str) -> str:
    return salted_hmac(_SALT, f"{notice_id}.{tag}", algorithm="sha256").hexdigest()[:16]


def bounce_domain() -> str:
    return str(getattr(settings, "NOTICE_BOUNCE_DOMAIN", "") or "").strip().lower()


def bounce_address(*, notice_id: int, recipient: str) -> str | None:
    """The envelope sender for ``recipient``'s copy of a notice; None when not configured."""
    domain = bounce_domain()
    if not domain:
        return None
    tag = recipient_tag(recipient)
    return f"b.{notice_id}.{tag}.{_signature(notice_id, tag)}@{domain}"


def bounce_address_parse(address: str) -> BounceTarget | None:
    """The notice and recipient a signed envelope sender names, or None.

    None for anything else: another domain, a malformed local part, a wrong
    signature (a forger without the secret key cannot make one), or no bounce
    domain configured.
    """
    domain = bounce_domain()
    local, _, at = address.strip().strip("<>").lower().rpartition("@")
    if not domain or at != domain:
        return None
    match = _LOCAL.match(local)
    if match is None:
        return None
    notice_id, tag, signature = int(match.group(1)), match.group(2), match.group(3)
    if not hmac.compare_digest(_signature(notice_id, tag), signature):
        return None
    return BounceTarget(notice_id=notice_id, recipient_tag=tag)


def signed_bounce_target(addresses: list[str]) -> BounceTarget | None:
    """The first of ``addresses`` (envelope recipients, then Delivered-To and the
    like) that is a signed envelope sender of ours."""
    for address in addresses[:100]:
        target = bounce_address_parse(address)
        if target is not None:
            return target
    return None
