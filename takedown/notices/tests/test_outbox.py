"""The outbox: outages, retries with backoff, refusals, crashed workers, no duplicates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from takedown.cases.models import Event, EventKind, SiteState
from takedown.notices.models import BadAddress, Notice, NoticeState, OutboxMessage, OutboxState
from takedown.notices.outbox import outbox_flush
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import SmtpSink, free_port, make_org, make_site, start_sink
from takedown.notices.tick import mail_tick

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def _plan(name: str = "Net O", abuse: list[str] | None = None) -> Any:
    org = make_org(name, country="US", abuse=abuse)
    site = make_site(f"http://login.{name.lower().replace(' ', '')}.example/", org)
    notice_plan_site(site.pk)
    return site


def test_it_survives_an_smtp_outage_and_sends_once(notice_settings: Any) -> None:
    port = free_port()
    notice_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    notice_settings.EMAIL_HOST, notice_settings.EMAIL_PORT = "127.0.0.1", port
    notice_settings.EMAIL_TIMEOUT = 2
    site = _plan()
    mail_tick()  # nobody listens on the port: connection refused
    row = OutboxMessage.objects.get()
    assert row.state == OutboxState.PENDING
    assert (
        row.attempts == 1 and "Connection refused" in row.last_error
    ) or "Errno" in row.last_error
    first_retry = row.next_attempt
    assert first_retry >= timezone.now() + timedelta(seconds=25)
    outbox_flush(now=first_retry + timedelta(seconds=1))
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.next_attempt - first_retry >= timedelta(seconds=55)  # backoff doubles
    raw_before = bytes(row.raw)
    site.refresh_from_db()
    assert site.state == SiteState.LOCATED  # not notified while nothing left

    sink = start_sink(port)  # the server comes back
    try:
        outbox_flush(now=timezone.now() + timedelta(hours=2))
        outbox_flush(now=timezone.now() + timedelta(hours=4))
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    assert sink.messages[0].raw.replace(b"\r\n", b"\n") == raw_before.replace(b"\r\n", b"\n")
    row.refresh_from_db()
    assert row.state == OutboxState.SENT
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert Event.objects.filter(kind=EventKind.NOTICE_SENT).count() == 1


def test_it_retries_a_temporary_refusal(smtp: SmtpSink) -> None:
    smtp.handler.data_reply = "451 4.3.0 try again later"
    _plan()
    mail_tick()
    assert OutboxMessage.objects.get().state == OutboxState.PENDING
    smtp.handler.data_reply = ""
    outbox_flush(now=timezone.now() + timedelta(minutes=5))
    assert len(smtp.messages) == 1
    assert OutboxMessage.objects.get().state == OutboxState.SENT


def test_it_marks_a_refused_recipient_bad(smtp: SmtpSink) -> None:
    smtp.handler.reject_rcpt["abuse@net-p.example"] = "550 5.1.1 no such user"
    site = _plan("Net P", abuse=["abuse@net-p.example"])
    mail_tick()
    assert smtp.messages == []
    assert OutboxMessage.objects.get().state == OutboxState.FAILED
    assert BadAddress.objects.filter(address="abuse@net-p.example").exists()
    assert Event.objects.filter(site=site, kind=EventKind.NOTICE_BOUNCED).exists()
    mail_tick()  # the bounce made the thread due: the next round looks for another contact
    assert Event.objects.filter(site=site, kind=EventKind.NOTICE_NO_CONTACT).exists()


def test_it_never_resends_what_a_crashed_worker_was_sending(smtp: SmtpSink, settings: Any) -> None:
    site = _plan()
    from takedown.notices.planning import notices_compose_due

    notices_compose_due()
    row = OutboxMessage.objects.get()
    # A worker claimed it and died before recording the outcome.
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxState.SENDING, claimed_at=timezone.now() - timedelta(minutes=15)
    )
    mail_tick()
    mail_tick(now=timezone.now() + timedelta(minutes=5))
    assert smtp.messages == []
    row.refresh_from_db()
    assert row.state == OutboxState.UNCERTAIN
    site.refresh_from_db()
    assert site.state == SiteState.NOTIFIED
    assert Event.objects.get(kind=EventKind.NOTICE_SENT).data["uncertain"] is True
    # The thread goes on: the follow-up is a new decision and is sent.
    mail_tick(now=timezone.now() + timedelta(hours=2))
    assert len(smtp.messages) == 1


def test_it_sends_each_outbox_row_once_when_two_loops_run(smtp: SmtpSink) -> None:
    for n in range(3):
        _plan(f"Net Q{n}")
    from takedown.notices.planning import notices_compose_due

    notices_compose_due()
    assert outbox_flush() == 3
    assert outbox_flush() == 0
    assert len(smtp.messages) == 3
    assert Notice.objects.filter(state=NoticeState.SENT).count() == 3
    ids = [m.message["Message-ID"] for m in smtp.messages]
    assert len(set(ids)) == 3
