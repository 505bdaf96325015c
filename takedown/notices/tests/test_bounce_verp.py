"""Bounces tied to their notice by construction, and forged ones that change nothing.

Notices go out through a real SMTP sink; bounces come in through the real
listener. With ``NOTICE_BOUNCE_DOMAIN`` each recipient gets its own SMTP
transaction whose envelope sender names the notice and that recipient, signed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from takedown.cases.models import Event
from takedown.notices.bounce_address import bounce_address
from takedown.notices.models import (
    BadAddress,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeState,
    OutboxMessage,
)
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site, send_raw
from takedown.notices.tick import mail_tick
from takedown.sandbox.mail import build_dsn

# The SMTP sink and the inbound listener run in threads.
pytestmark = pytest.mark.concurrency

DOMAIN = "bounces.csirt.example"
ABUSE, NOC = "abuse@net-v.example", "noc@net-v.example"


@pytest.fixture
def verp(notice_settings: Any) -> Any:
    notice_settings.NOTICE_BOUNCE_DOMAIN = DOMAIN
    return notice_settings


def _notice(smtp: SmtpSink) -> Notice:
    org = make_org("Example Net V", country="US", abuse=[ABUSE, NOC])
    site = make_site("http://login.bank-v.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    return Notice.objects.get()


def _dsn(original: bytes, *, to: str, names: str, headers_of_original: bool = True) -> bytes:
    raw = build_dsn(
        original,
        envelope_from=to,
        failed_rcpt=names,
        remote_mta="mx.net-v.example",
        arrival=datetime.now(UTC),
    )
    if not headers_of_original:
        # An MTA that returns nothing of the original (no Message-ID to go by).
        raw = raw.split(b"Content-Type: text/rfc822-headers")[0] + b"\r\n"
    return raw


def test_each_recipient_gets_its_own_signed_envelope_sender(
    verp: Any, smtp: SmtpSink, db: Any
) -> None:
    notice = _notice(smtp)
    by_rcpt = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert sorted(by_rcpt) == [ABUSE, NOC]
    assert all(len(m.rcpt_tos) == 1 for m in smtp.messages)
    for rcpt, message in by_rcpt.items():
        assert message.mail_from == bounce_address(notice_id=notice.pk, recipient=rcpt)
    # The same bytes to both: only the envelope differs.
    assert by_rcpt[ABUSE].raw == by_rcpt[NOC].raw
    assert sorted(OutboxMessage.objects.get().accepted) == [ABUSE, NOC]
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT


def test_without_a_bounce_domain_one_transaction_from_the_notice_address(
    smtp: SmtpSink, db: Any
) -> None:
    _notice(smtp)
    [message] = smtp.messages
    assert message.mail_from == "takedown@csirt.example"
    assert sorted(message.rcpt_tos) == [ABUSE, NOC]


def test_a_bounce_to_the_signed_address_marks_exactly_that_recipient(
    verp: Any, smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    notice = _notice(smtp)
    sender = bounce_address(notice_id=notice.pk, recipient=ABUSE)
    assert sender is not None
    # The body names the other recipient (as an MTA reporting an alias would), and
    # returns nothing of the original: the envelope alone says who failed.
    raw = _dsn(smtp.messages[0].raw, to=sender, names=NOC, headers_of_original=False)
    code, _ = send_raw(listener, raw, mail_from="", rcpt=sender)
    assert code == 250
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.BOUNCE
    assert inbound.notice == notice
    assert "signed envelope sender" in inbound.details["matched_by"]
    assert list(BadAddress.objects.values_list("address", flat=True)) == [ABUSE]
    notice.refresh_from_db()
    assert notice.state == NoticeState.BOUNCED


@pytest.mark.parametrize("token", ["thread", "bare"])
def test_a_forged_bounce_cannot_mark_an_address_bad(
    verp: Any, smtp: SmtpSink, listener: tuple[str, int], token: str
) -> None:
    notice = _notice(smtp)
    subject_token = notice.token if token == "thread" else f"TKD#N{notice.pk}"
    forged = (
        "From: Mail Delivery System <MAILER-DAEMON@forger.example>\r\n"
        "To: takedown@csirt.example\r\n"
        f"Subject: Undelivered Mail Returned to Sender [{subject_token}]\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="F"\r\n\r\n'
        "--F\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n\r\n"
        f"<{ABUSE}>: host said: 550 5.1.1 User unknown\r\n\r\n"
        "--F\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; forger.example\r\n\r\n"
        f"Final-Recipient: rfc822; {ABUSE}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--F--\r\n"
    ).encode()
    # To our From address, and to a made-up address on the bounce domain.
    send_raw(listener, forged, mail_from="", rcpt="takedown@csirt.example")
    send_raw(
        listener, forged, mail_from="", rcpt=f"b.{notice.pk}.0badc0de.0123456789abcdef@{DOMAIN}"
    )
    assert not BadAddress.objects.exists()
    assert not Event.objects.filter(kind="notice.bounced").exists()
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT
    for inbound in InboundMessage.objects.all():
        assert inbound.kind == InboundKind.UNMATCHED  # in the handlers' queue
        assert "no address is marked bad" in inbound.reason


def test_a_bounce_quoting_a_message_id_we_sent_still_counts(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    """MTAs that bounce to the header From: the returned headers carry our Message-ID."""
    notice = _notice(smtp)
    raw = _dsn(smtp.messages[0].raw, to="takedown@csirt.example", names=ABUSE)
    send_raw(listener, raw, mail_from="", rcpt="takedown@csirt.example")
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.BOUNCE
    assert inbound.notice == notice
    assert list(BadAddress.objects.values_list("address", flat=True)) == [ABUSE]


def test_a_guessed_token_matches_no_thread(smtp: SmtpSink, listener: tuple[str, int]) -> None:
    notice = _notice(smtp)
    assert notice.token_tag
    for subject in [f"Re: [TKD#N{notice.pk}] site", f"Re: [TKD#N{notice.pk}-0000000000] site"]:
        raw = (
            f"From: someone@isp.example\r\nTo: takedown@csirt.example\r\nSubject: {subject}\r\n\r\n"
            "We removed it.\r\n"
        ).encode()
        send_raw(listener, raw)
    assert not InboundMessage.objects.filter(notice=notice).exists()
    raw = (
        f"From: {ABUSE}\r\nTo: takedown@csirt.example\r\nSubject: Re: [{notice.token}] site\r\n\r\n"
        "We removed it.\r\n"
    ).encode()
    send_raw(listener, raw)
    assert InboundMessage.objects.filter(notice=notice, kind=InboundKind.REPLY).count() == 1


def test_a_thread_from_before_tags_keeps_its_token(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    notice = _notice(smtp)
    Notice.objects.filter(pk=notice.pk).update(token_tag="")  # as the migration leaves old ones
    raw = (
        f"From: {ABUSE}\r\nTo: takedown@csirt.example\r\n"
        f"Subject: Re: [TKD#N{notice.pk}] site\r\n\r\nWe removed it.\r\n"
    ).encode()
    send_raw(listener, raw)
    assert InboundMessage.objects.get().notice == notice


def test_a_recipient_refused_while_the_other_is_taken_bounces_alone(
    verp: Any, smtp: SmtpSink, db: Any
) -> None:
    smtp.handler.reject_rcpt[NOC] = "550 5.1.1 no such user"
    notice = _notice(smtp)
    assert [m.rcpt_tos for m in smtp.messages] == [[ABUSE]]
    row = OutboxMessage.objects.get()
    assert row.state == "sent" and row.accepted == [ABUSE]
    assert list(BadAddress.objects.values_list("address", flat=True)) == [NOC]
    notice.refresh_from_db()
    assert notice.state == NoticeState.BOUNCED


def test_a_retry_sends_only_to_the_recipients_not_yet_taken(
    verp: Any, smtp: SmtpSink, db: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    smtp.handler.reject_rcpt[NOC] = "451 4.3.0 try later"
    _notice(smtp)
    row = OutboxMessage.objects.get()
    assert row.state == "pending" and row.accepted == [ABUSE]
    smtp.handler.reject_rcpt.clear()
    mail_tick(now=timezone.now() + timedelta(minutes=5))
    assert [m.rcpt_tos for m in smtp.messages] == [[ABUSE], [NOC]]
    row.refresh_from_db()
    assert row.state == "sent" and sorted(row.accepted) == [ABUSE, NOC]
