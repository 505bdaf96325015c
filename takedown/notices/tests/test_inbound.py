"""Inbound mail through the real listener: replies, bounces, auto-replies, reports, bad input."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from takedown.cases.models import Event, EventKind, Step
from takedown.intake.models import Report
from takedown.loop import run_round
from takedown.notices.models import BadAddress, InboundKind, InboundMessage, Notice, NoticeState
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site, send_raw
from takedown.notices.tick import mail_tick

pytestmark = pytest.mark.concurrency


def _notice(smtp: SmtpSink) -> Notice:
    org = make_org("Example Net A", country="US", abuse=["abuse@net-a.example"])
    site = make_site("http://login.bank-a.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    assert len(smtp.messages) == 1
    return Notice.objects.get()


def _reply(
    notice: Notice, *, body: str = "We removed it.", subject: str | None = None, **headers: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Abuse Desk <abuse@net-a.example>"
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = subject if subject is not None else f"Re: [{notice.token}] Phishing site"
    msg["Message-ID"] = make_msgid(domain="net-a.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_it_routes_a_threaded_reply_to_the_notice(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    notice = _notice(smtp)
    code, _ = send_raw(
        listener, _reply(notice, subject="Re: your mail", In_Reply_To=notice.message_id)
    )
    assert code == 250
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.REPLY
    assert inbound.notice == notice
    notice.refresh_from_db()
    assert notice.state == NoticeState.REPLIED
    event = Event.objects.get(kind=EventKind.NOTICE_REPLIED)
    assert event.organization == notice.organization
    assert event.data["notice"] == notice.pk and event.data["human"] is True


def test_it_routes_a_reply_by_token_alone(smtp: SmtpSink, listener: tuple[str, int]) -> None:
    notice = _notice(smtp)
    send_raw(listener, _reply(notice))
    assert InboundMessage.objects.get().notice == notice


def test_it_does_not_match_a_forged_in_reply_to(smtp: SmtpSink, listener: tuple[str, int]) -> None:
    notice = _notice(smtp)
    forged = "<tkd.n1.0000000000000000@other-team.example>"
    code, _ = send_raw(
        listener, _reply(notice, subject="Re: notice", In_Reply_To=forged, References=forged)
    )
    assert code == 250
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.UNMATCHED
    assert inbound.notice is None
    assert "not a message we sent" in inbound.reason
    assert not Event.objects.filter(kind=EventKind.NOTICE_REPLIED).exists()
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT


def test_it_leaves_a_reply_without_token_for_a_handler(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    notice = _notice(smtp)
    send_raw(listener, _reply(notice, subject="Re: phishing site on our network"))
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.UNMATCHED
    assert inbound.reason
    assert not Report.objects.exists()


def test_it_never_takes_an_address_from_the_body(
    smtp: SmtpSink, listener: tuple[str, int], settings: Any
) -> None:
    notice = _notice(smtp)
    body = "Not us. Please write to abuse@evil.example instead.\nReply-To: abuse@evil.example"
    send_raw(listener, _reply(notice, body=body, Reply_To="abuse@evil.example"))
    # The thread goes on (deadline passes) and the follow-up still goes to the registry address.
    from django.utils import timezone

    mail_tick(now=timezone.now() + __import__("datetime").timedelta(hours=2))
    assert len(smtp.messages) == 2
    assert all("abuse@evil.example" not in m.rcpt_tos for m in smtp.messages)
    assert smtp.messages[1].rcpt_tos == ["abuse@net-a.example"]


def test_it_marks_the_address_bad_on_a_bounce_and_resends(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    org = make_org(
        "Example Net C",
        country="US",
        abuse=["abuse@net-c.example"],
    )
    site = make_site("http://login.bank-c.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    notice = Notice.objects.get()
    from takedown.sandbox.mail import build_dsn

    dsn = build_dsn(
        smtp.messages[0].raw,
        envelope_from="takedown@csirt.example",
        failed_rcpt="abuse@net-c.example",
        remote_mta="mx.net-c.example",
        arrival=__import__("datetime").datetime.now(__import__("datetime").UTC),
    )
    code, _ = send_raw(listener, dsn, mail_from="")
    assert code == 250
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.BOUNCE
    assert inbound.notice == notice
    assert BadAddress.objects.filter(organization=org, address="abuse@net-c.example").exists()
    assert Event.objects.filter(kind=EventKind.NOTICE_BOUNCED, site=site).exists()
    notice.refresh_from_db()
    assert notice.state == NoticeState.BOUNCED


def test_it_holds_tokenless_mail_from_an_admin_we_wrote_to(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    _notice(smtp)
    msg = EmailMessage()
    msg["From"] = "abuse@net-a.example"
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = "about hxxp://login.bank-a[.]example/"
    msg["Message-ID"] = make_msgid(domain="net-a.example")
    msg.set_content("We looked at hxxp://login.bank-a[.]example/ and removed it.")
    send_raw(listener, msg.as_bytes())
    inbound = InboundMessage.objects.get()
    assert inbound.kind == InboundKind.UNMATCHED
    assert Report.objects.filter(channel="email").count() == 0


def test_it_takes_a_new_report_from_a_reporter_we_acknowledged(
    smtp: SmtpSink, listener: tuple[str, int]
) -> None:
    def report(url: str) -> bytes:
        msg = EmailMessage()
        msg["From"] = "SOC <soc@bank-a.example>"
        msg["To"] = "takedown@csirt.example"
        msg["Subject"] = "Phishing site"
        msg["Message-ID"] = make_msgid(domain="bank-a.example")
        msg.set_content(f"Please take down {url}")
        return msg.as_bytes()

    send_raw(listener, report("hxxp://first.bank-a-phish[.]example/"))
    run_round(steps=[Step.ACK])  # the worker acknowledges the stored report
    mail_tick()
    # The reporter got an acknowledgement, so it is now someone we wrote to.
    assert any("soc@bank-a.example" in m.rcpt_tos for m in smtp.messages)
    send_raw(listener, report("hxxp://second.bank-a-phish[.]example/"))
    assert Report.objects.filter(channel="email").count() == 2
    assert not InboundMessage.objects.filter(kind=InboundKind.UNMATCHED).exists()
