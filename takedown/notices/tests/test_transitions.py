"""One write path: notice and inbound-mail states change only as their tables allow, with events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Event, EventKind
from takedown.intake.models import Report
from takedown.notices.models import (
    INBOUND_TRANSITIONS,
    NOTICE_TRANSITIONS,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeState,
)
from takedown.notices.planning import notice_plan_site
from takedown.notices.services import inbound_transition, notice_transition
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def test_it_names_every_state_in_the_tables() -> None:
    assert set(NOTICE_TRANSITIONS) == set(NoticeState.values)
    assert set(INBOUND_TRANSITIONS) == set(InboundKind.values)
    for targets in NOTICE_TRANSITIONS.values():
        assert targets <= set(NoticeState.values)
    assert NoticeState.COLLECTING not in set().union(*NOTICE_TRANSITIONS.values())


def test_it_records_each_state_change_of_a_notice_on_each_site(smtp: SmtpSink) -> None:
    org = make_org("Net T1", country="US")
    a = make_site("http://a.bank-t1.example/", org)
    b = make_site("http://b.bank-t1.example/", org)
    notice_plan_site(a.pk)
    notice_plan_site(b.pk)
    mail_tick()
    notice = Notice.objects.get()
    assert notice.state == NoticeState.SENT
    for site in (a, b):
        kinds = list(
            Event.objects.filter(site=site, data__notice=notice.pk)
            .order_by("pk")
            .values_list("kind", flat=True)
        )
        assert kinds == [EventKind.NOTICE_QUEUED, EventKind.NOTICE_SENT]


def test_it_refuses_a_change_the_table_does_not_allow(smtp: SmtpSink) -> None:
    org = make_org("Net T2", country="US")
    site = make_site("http://a.bank-t2.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    notice = Notice.objects.get()
    before = Event.objects.count()
    # A sent notice cannot go back to collecting, nor be sent twice.
    assert not notice_transition(notice, NoticeState.COLLECTING, kind=EventKind.NOTICE_QUEUED)
    assert not notice_transition(notice, NoticeState.SENT, kind=EventKind.NOTICE_SENT)
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT
    assert Event.objects.count() == before


def test_it_applies_a_change_once_when_two_workers_race(smtp: SmtpSink) -> None:
    org = make_org("Net T3", country="US")
    site = make_site("http://a.bank-t3.example/", org)
    notice_plan_site(site.pk)
    stale_copy = Notice.objects.get()
    fresh_copy = Notice.objects.get()
    assert notice_transition(fresh_copy, NoticeState.QUEUED, kind=EventKind.NOTICE_QUEUED)
    # The second worker read the notice while it was still collecting.
    assert stale_copy.state == NoticeState.COLLECTING
    assert not notice_transition(stale_copy, NoticeState.QUEUED, kind=EventKind.NOTICE_QUEUED)
    assert Event.objects.filter(kind=EventKind.NOTICE_QUEUED).count() == 1


def test_it_records_how_each_inbound_message_was_sorted(smtp: SmtpSink) -> None:
    from takedown.notices.inbound import inbound_receive

    org = make_org("Net T4", country="US")
    site = make_site("http://a.bank-t4.example/", org)
    notice_plan_site(site.pk)
    mail_tick()
    notice = Notice.objects.get(kind=NoticeKind.INITIAL)
    reply = (
        f"From: abuse@net-t4.example\r\nTo: takedown@csirt.example\r\n"
        f"Subject: Re: [{notice.token}] x\r\nIn-Reply-To: {notice.message_id}\r\n\r\nDone.\r\n"
    ).encode()
    inbound = inbound_receive(reply, mail_from="abuse@net-t4.example")
    assert inbound.kind == InboundKind.REPLY
    event = Event.objects.get(kind=EventKind.INBOUND_ROUTED)
    assert event.data == {"inbound": inbound.pk, "kind": "reply", "notice": notice.pk}
    assert event.organization == org
    # Sorted once: it cannot be sorted again as something else.
    assert not inbound_transition(inbound, InboundKind.REPORT, reason="again")
    inbound.refresh_from_db()
    assert inbound.kind == InboundKind.REPLY


def test_it_processes_mail_a_dead_process_stored_but_never_sorted(
    smtp: SmtpSink, settings: Any
) -> None:
    from takedown.notices.inbound import inbound_process, inbound_store

    raw = (
        b"From: soc@bank-t5.example\r\nTo: report@csirt.example\r\nSubject: phishing\r\n\r\n"
        b"hxxp://login.bank-t5[.]example/\r\n"
    )
    inbound = inbound_store(raw, mail_from="soc@bank-t5.example")  # then the process died
    mail_tick()
    inbound.refresh_from_db()
    assert inbound.kind == InboundKind.PENDING  # not yet: the listener may still be on it
    later = timezone.now() + timedelta(seconds=settings.INBOUND_PENDING_AFTER + 1)
    mail_tick(now=later)
    inbound.refresh_from_db()
    assert inbound.kind == InboundKind.REPORT and inbound.report is not None
    # A late second processing (the slow listener) records nothing twice.
    stale = InboundMessage.objects.get(pk=inbound.pk)
    stale.kind = InboundKind.PENDING
    before = (Report.objects.count(), Event.objects.count())
    inbound_process(stale)
    assert (Report.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize("reference", ["message_id", "token"])
def test_it_matches_a_reply_that_overtakes_the_record_of_its_sending(
    smtp: SmtpSink, reference: str
) -> None:
    """A desk that answers at once can reply before our "250" is committed.

    The message is in the outbox as ``sending`` (handed to the mail server,
    the server's answer not yet recorded) when the reply arrives: the reply
    still belongs to the notice, which is ``replied``, and recording the send
    afterwards keeps it so.  CI's PostgreSQL pass once saw the sandbox's
    replying desk end ``sent`` this way (notices/tests/test_sandbox.py).
    """
    from takedown.notices.inbound import inbound_receive
    from takedown.notices.models import OutboxMessage, OutboxState
    from takedown.notices.outbox import outbox_sent
    from takedown.notices.planning import notices_compose_due

    org = make_org("Net T5", country="US")
    site = make_site("http://a.bank-t5.example/", org)
    notice_plan_site(site.pk)
    notices_compose_due()
    notice = Notice.objects.get(kind=NoticeKind.INITIAL)
    row = OutboxMessage.objects.get(notice=notice)
    # What ``mail_tick`` does before it talks to the server: claim the row.
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.SENDING, claimed_at=timezone.now()
    )
    notice.refresh_from_db()
    header = f"In-Reply-To: {notice.message_id}\r\n" if reference == "message_id" else ""
    reply = (
        f"From: abuse@net-t5.example\r\nTo: takedown@csirt.example\r\n"
        f"Subject: Re: [{notice.token}] x\r\n{header}\r\nWe removed it.\r\n"
    ).encode()
    inbound = inbound_receive(reply, mail_from="abuse@net-t5.example")
    assert inbound.kind == InboundKind.REPLY
    assert inbound.notice_id == notice.pk
    notice.refresh_from_db()
    assert notice.state == NoticeState.REPLIED
    outbox_sent(OutboxMessage.objects.get(pk=row.pk))
    notice.refresh_from_db()
    assert notice.state == NoticeState.REPLIED
    assert notice.sent_at is not None
