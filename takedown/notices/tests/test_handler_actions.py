"""A handler's notice and mail actions, through the real outbox and a real SMTP server."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from takedown.cases.models import Event, SiteState
from takedown.cases.services import ActionError
from takedown.intake.models import Report
from takedown.notices.actions import (
    answer_draft,
    inbound_answer,
    inbound_link,
    inbound_mark_handled,
    inbound_to_report,
    notice_resend,
    sites_notify_now,
)
from takedown.notices.inbound import inbound_receive
from takedown.notices.models import InboundKind, InboundMessage, Notice, NoticeKind, NoticeState
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.django_db, pytest.mark.concurrency]


def _mail(subject: str, body: str = "Hello", sender: str = "abuse@net-a.example") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Desk <{sender}>"
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="net-a.example")
    msg.set_content(body)
    return msg.as_bytes()


def test_it_sends_a_notice_now_to_addresses_the_handler_chose(smtp: SmtpSink) -> None:
    site = make_site("http://login.bank-a.example/", None)
    with pytest.raises(ActionError):
        sites_notify_now(sites=[site], actor="alice")  # no organisation: recipients needed
    (notice,) = sites_notify_now(sites=[site], actor="alice", recipients=["Abuse@Host.example"])
    mail_tick()
    assert [m.rcpt_tos for m in smtp.messages] == [["abuse@host.example"]]
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert Event.objects.get(kind="notice.requested").actor == "alice"
    assert notice.kind == NoticeKind.INITIAL


def test_it_hurries_a_collecting_notice_instead_of_making_a_second(
    smtp: SmtpSink, notice_settings: object
) -> None:
    notice_settings.NOTICE_BATCH_WINDOW = 3600  # type: ignore[attr-defined]
    org = make_org("Example Net A", country="US")
    site = make_site("http://login.bank-a.example/", org)
    collecting = notice_plan_site(site.pk)
    mail_tick()
    assert smtp.messages == []
    assert sites_notify_now(sites=[site], actor="alice") == [collecting]
    mail_tick()
    assert len(smtp.messages) == 1
    assert Notice.objects.count() == 1


def test_it_refuses_the_same_click_twice_and_resends_in_the_thread(smtp: SmtpSink) -> None:
    org = make_org("Example Net A", country="US", abuse=["abuse@net-a.example"])
    site = make_site("http://login.bank-a.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    root = Notice.objects.get()
    resend = notice_resend(notice=root, actor="alice", recipients=["noc@net-a.example"])
    with pytest.raises(ActionError):
        notice_resend(notice=root, actor="alice", recipients=["noc@net-a.example"])
    mail_tick()
    assert resend.parent == root and resend.kind == NoticeKind.RESEND
    last = smtp.messages[-1].message
    assert last["To"] == "noc@net-a.example"
    assert root.message_id in last["References"]
    assert root.token in last["Subject"]


def test_it_links_an_unmatched_reply_and_answers_in_the_thread_language(smtp: SmtpSink) -> None:
    org = make_org("Example Net A", country="JP", abuse=["abuse@net-a.example"])
    site = make_site("http://login.bank-a.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    notice = Notice.objects.get()
    inbound = inbound_receive(_mail("Re: your message", "We removed it."))
    assert inbound.kind == InboundKind.UNMATCHED
    inbound_link(inbound=inbound, notice=notice, actor="alice")
    inbound.refresh_from_db()
    assert (inbound.kind, inbound.notice, inbound.handled_by) == (
        InboundKind.REPLY,
        notice,
        "alice",
    )
    notice.refresh_from_db()
    assert notice.state == NoticeState.REPLIED
    assert Event.objects.filter(kind="notice.replied", site=site).exists()
    draft = answer_draft(inbound=inbound)
    assert "ご連絡ありがとうございます" in draft and notice.token in draft
    answer = inbound_answer(inbound=inbound, actor="alice", body=draft + "\n確認しました。")
    with pytest.raises(ActionError):
        inbound_answer(inbound=inbound, actor="alice", body=draft + "\n確認しました。")
    mail_tick()
    sent = smtp.messages[-1].message
    assert sent["To"] == "abuse@net-a.example"
    assert sent["Subject"].startswith("Re: ") and notice.token in sent["Subject"]
    assert sent["In-Reply-To"] == notice.message_id
    assert answer.language == "ja"
    assert Event.objects.get(kind="notice.answered").actor == "alice"


def test_it_turns_a_message_into_a_report_and_marks_others_handled(smtp: SmtpSink) -> None:
    org = make_org("Example Net A", country="US", abuse=["abuse@net-a.example"])
    site = make_site("http://login.bank-a.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    inbound = inbound_receive(_mail("Re: phish", "see hxxp://other[.]example/login"))
    assert inbound.kind == InboundKind.UNMATCHED
    inbound_to_report(inbound=inbound, actor="bob")
    inbound.refresh_from_db()
    assert inbound.report is not None
    assert Report.objects.get().sites.get().url == "http://other.example/login"
    with pytest.raises(ActionError):
        inbound_to_report(inbound=inbound, actor="bob")
    other = inbound_receive(_mail("Re: nothing", "spam"))
    inbound_mark_handled(inbound=other, actor="bob", note="spam")
    assert InboundMessage.objects.get(pk=other.pk).handled_by == "bob"
    with pytest.raises(ActionError):
        inbound_mark_handled(inbound=other, actor="bob")
