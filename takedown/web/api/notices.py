"""Notices and their threads, inbound mail, bounced addresses; the actions on them.

Mail text is returned as JSON strings, never as markup; the raw message is a
download (``application/octet-stream``), as in the UI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from takedown.notices.actions import (
    answer_draft,
    inbound_answer,
    inbound_link,
    inbound_mark_handled,
    inbound_to_report,
    notice_answer,
    notice_resend,
)
from takedown.notices.classify import classify_message
from takedown.notices.models import (
    BadAddress,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeState,
)
from takedown.notices.services import bad_address_allow, notice_close_per_admin
from takedown.web.api.auth import ACT, READ, api_actor
from takedown.web.api.common import ErrorOut, Id, Limit, Offset, Page, Text, page_of

router = Router(tags=["notices"])
inbound_router = Router(tags=["mail"])
bad_router = Router(tags=["mail"])

MAX_TEXT = 100_000


class NoticeOut(Schema):
    id: int
    token: str
    kind: str
    state: str
    thread_id: int
    organization_id: int | None
    organization: str | None
    reporter_id: int | None
    report_id: int | None
    language: str
    subject: str
    recipients: list[str]
    message_id: str
    error: str
    created: datetime
    sent_at: datetime | None
    replied_at: datetime | None
    next_deadline: datetime | None
    site_ids: list[int]


def notice_out(n: Notice) -> dict[str, Any]:
    return {
        "id": n.pk,
        "token": n.token,
        "kind": n.kind,
        "state": n.state,
        "thread_id": n.parent_id or n.pk,
        "organization_id": n.organization_id,
        "organization": n.organization.name if n.organization else None,
        "reporter_id": n.reporter_id,
        "report_id": n.report_id,
        "language": n.language,
        "subject": n.subject,
        "recipients": [str(r) for r in n.recipients or []],
        "message_id": n.message_id,
        "error": n.error,
        "created": n.created,
        "sent_at": n.sent_at,
        "replied_at": n.replied_at,
        "next_deadline": n.next_deadline,
        "site_ids": sorted(s.pk for s in n.sites.all()),
    }


class NoticeDetailOut(NoticeOut):
    body: str
    draft: str = Field(description="the start of an answer in the thread, in its language")


class NoticeFilters(Schema):
    state: list[NoticeState] = []
    kind: list[NoticeKind] = []
    organization: Id | None = None
    site: Id | None = None
    reporter: Id | None = None
    recipient: Text = Field("", description="an address the notice was sent to")


def _notices() -> Any:
    return Notice.objects.select_related("organization").prefetch_related("sites")


@router.get("", response=Page[NoticeOut], auth=READ)
def list_notices(
    request: HttpRequest, f: Query[NoticeFilters], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Notices newest first: to organisations, escalations, and reporters' messages."""
    qs = _notices().defer("body", "xarf")
    if f.state:
        qs = qs.filter(state__in=f.state)
    if f.kind:
        qs = qs.filter(kind__in=f.kind)
    if f.organization is not None:
        qs = qs.filter(organization_id=f.organization)
    if f.reporter is not None:
        qs = qs.filter(reporter_id=f.reporter)
    if f.site is not None:
        qs = qs.filter(sites__pk=f.site).distinct()
    if f.recipient.strip():
        qs = qs.filter(recipients__icontains=f.recipient.strip())
    return page_of(qs.order_by("-created", "-id"), limit=limit, offset=offset, out=notice_out)


@router.get("/{notice_id}", response=NoticeDetailOut, auth=READ)
def get_notice(request: HttpRequest, notice_id: Id) -> Any:
    """One notice with the text that was sent."""
    notice = get_object_or_404(_notices(), pk=notice_id)
    return {**notice_out(notice), "body": notice.body, "draft": answer_draft(notice=notice)}


class ThreadItemOut(Schema):
    """One message of a thread: ``direction`` ``out`` (a notice) or ``in`` (mail)."""

    direction: str
    id: int
    at: datetime | None
    kind: str
    subject: str
    party: str
    state: str


class ThreadOut(Schema):
    thread_id: int
    notices: list[NoticeOut]
    items: list[ThreadItemOut]


@router.get("/{notice_id}/thread", response=ThreadOut, auth=READ)
def notice_thread(request: HttpRequest, notice_id: Id) -> Any:
    """The notice's thread in order: what we sent and what came back."""
    notice = get_object_or_404(Notice, pk=notice_id)
    root = notice.root
    notices = list(_notices().defer("body", "xarf").filter(Q(pk=root.pk) | Q(parent=root)))
    notices.sort(key=lambda n: (n.created, n.pk))
    inbound = InboundMessage.objects.defer("raw").filter(notice__in=notices)
    items = [
        {
            "direction": "out",
            "id": n.pk,
            "at": n.sent_at or n.created,
            "kind": n.kind,
            "subject": n.subject,
            "party": ", ".join(str(r) for r in n.recipients or []) or n.party,
            "state": n.state,
        }
        for n in notices
    ] + [
        {
            "direction": "in",
            "id": m.pk,
            "at": m.received,
            "kind": m.kind,
            "subject": m.subject,
            "party": m.from_header,
            "state": "handled" if m.handled_by else "",
        }
        for m in inbound
    ]
    items.sort(key=lambda i: (i["at"], i["direction"] == "in", i["id"]))
    return {"thread_id": root.pk, "notices": [notice_out(n) for n in notices], "items": items}


class CloseIn(Schema):
    inbound: Id | None = None


@router.post("/{notice_id}/close", response={200: NoticeOut}, auth=ACT)
def close_notice(request: HttpRequest, notice_id: Id, payload: CloseIn) -> Any:
    """The administrator says the site is gone: the thread is closed, its sites checked now.

    ``inbound`` names the reply that said so (it is marked handled).
    """
    notice = get_object_or_404(Notice, pk=notice_id)
    inbound = None
    if payload.inbound is not None:
        inbound = InboundMessage.objects.filter(pk=payload.inbound, notice__isnull=False).first()
        if inbound is None:
            raise HttpError(400, "no such inbound message linked to a notice")
    notice_close_per_admin(notice, actor=api_actor(request), inbound=inbound)
    return notice_out(get_object_or_404(_notices(), pk=notice.pk))


class RecipientsIn(Schema):
    recipients: list[Text] = Field(
        [], max_length=50, description="addresses instead of the notice's own"
    )


@router.post("/{notice_id}/resend", response={201: NoticeOut, 409: ErrorOut}, auth=ACT)
def resend_notice(request: HttpRequest, notice_id: Id, payload: RecipientsIn) -> Any:
    """Send the thread's message again, in the thread, to the same or chosen addresses."""
    notice = get_object_or_404(Notice, pk=notice_id)
    resend = notice_resend(notice=notice, actor=api_actor(request), recipients=payload.recipients)
    return Status(201, notice_out(get_object_or_404(_notices(), pk=resend.pk)))


class AnswerIn(Schema):
    body: Text = Field(max_length=100_000)
    to: list[Text] = Field([], max_length=50, description="default: the thread's recipients")


@router.post("/{notice_id}/answer", response={201: NoticeOut, 409: ErrorOut}, auth=ACT)
def answer_notice(request: HttpRequest, notice_id: Id, payload: AnswerIn) -> Any:
    """Write in the notice's thread (its token, references and language)."""
    notice = get_object_or_404(Notice, pk=notice_id)
    answer = notice_answer(
        notice=notice, actor=api_actor(request), body=payload.body, to=payload.to
    )
    return Status(201, notice_out(get_object_or_404(_notices(), pk=answer.pk)))


class InboundOut(Schema):
    id: int
    received: datetime
    source: str
    kind: str
    reason: str
    mail_from: str
    rcpt_to: list[str]
    from_header: str
    subject: str
    message_id: str
    size: int
    sha256: str
    notice_id: int | None
    report_id: int | None
    processed: datetime | None
    handled_by: str


def inbound_out(m: InboundMessage) -> dict[str, Any]:
    return {
        "id": m.pk,
        "received": m.received,
        "source": m.source,
        "kind": m.kind,
        "reason": m.reason,
        "mail_from": m.mail_from,
        "rcpt_to": [str(r) for r in m.rcpt_to or []],
        "from_header": m.from_header,
        "subject": m.subject,
        "message_id": m.message_id,
        "size": m.size,
        "sha256": m.sha256,
        "notice_id": m.notice_id,
        "report_id": m.report_id,
        "processed": m.processed,
        "handled_by": m.handled_by,
    }


class InboundDetailOut(InboundOut):
    text: str
    text_truncated: bool
    details: dict[str, Any]
    draft: str = Field(description="the start of an answer in its thread's language")


class InboundFilters(Schema):
    kind: list[InboundKind] = []
    notice: Id | None = None
    handled: bool | None = None


@inbound_router.get("", response=Page[InboundOut], auth=READ)
def list_inbound(
    request: HttpRequest, f: Query[InboundFilters], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Inbound mail newest first: replies, auto-replies, bounces, reports, unmatched."""
    qs = InboundMessage.objects.defer("raw")
    if f.kind:
        qs = qs.filter(kind__in=f.kind)
    if f.notice is not None:
        qs = qs.filter(notice_id=f.notice)
    if f.handled is not None:
        qs = qs.exclude(handled_by="") if f.handled else qs.filter(handled_by="")
    return page_of(qs.order_by("-received", "-id"), limit=limit, offset=offset, out=inbound_out)


@inbound_router.get("/{inbound_id}", response=InboundDetailOut, auth=READ)
def get_inbound(request: HttpRequest, inbound_id: Id) -> Any:
    """One message: its headers as classified and its text (never HTML)."""
    m = get_object_or_404(InboundMessage, pk=inbound_id)
    text = classify_message(bytes(m.raw)).text
    return {
        **inbound_out(m),
        "text": text[:MAX_TEXT],
        "text_truncated": len(text) > MAX_TEXT,
        "details": m.details if isinstance(m.details, dict) else {},
        "draft": answer_draft(inbound=m),
    }


@inbound_router.get("/{inbound_id}/raw", auth=READ, response={200: None})
def get_inbound_raw(request: HttpRequest, inbound_id: Id) -> HttpResponse:
    """The message exactly as it arrived, as a download."""
    m = get_object_or_404(InboundMessage, pk=inbound_id)
    response = HttpResponse(bytes(m.raw), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="inbound-{m.pk}.eml"'
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _inbound(inbound_id: int) -> InboundMessage:
    return get_object_or_404(InboundMessage.objects.defer("raw"), pk=inbound_id)


class LinkIn(Schema):
    notice: Id


@inbound_router.post(
    "/{inbound_id}/link", response={200: InboundOut, 400: ErrorOut, 409: ErrorOut}, auth=ACT
)
def link_inbound(request: HttpRequest, inbound_id: Id, payload: LinkIn) -> Any:
    """This message answers ``notice``: it becomes a reply in the notice's thread."""
    inbound = _inbound(inbound_id)
    notice = Notice.objects.filter(pk=payload.notice).first()
    if notice is None:
        raise HttpError(400, "no such notice")
    inbound_link(inbound=inbound, notice=notice, actor=api_actor(request))
    return inbound_out(_inbound(inbound.pk))


class HandledIn(Schema):
    note: Text = Field("", max_length=2000)


@inbound_router.post("/{inbound_id}/handled", response={200: InboundOut, 409: ErrorOut}, auth=ACT)
def mark_inbound_handled(request: HttpRequest, inbound_id: Id, payload: HandledIn) -> Any:
    """Nothing more to do with this message (read, answered elsewhere, spam)."""
    inbound = _inbound(inbound_id)
    inbound_mark_handled(inbound=inbound, actor=api_actor(request), note=payload.note)
    return inbound_out(_inbound(inbound.pk))


@inbound_router.post("/{inbound_id}/report", response={200: InboundOut, 409: ErrorOut}, auth=ACT)
def inbound_report(request: HttpRequest, inbound_id: Id) -> Any:
    """The message is an incident report: intake takes it whole (``report_id`` is set)."""
    inbound = get_object_or_404(InboundMessage, pk=inbound_id)
    inbound_to_report(inbound=inbound, actor=api_actor(request))
    return inbound_out(_inbound(inbound.pk))


class InboundAnswerIn(Schema):
    body: Text = Field(max_length=100_000)


@inbound_router.post("/{inbound_id}/answer", response={201: NoticeOut, 409: ErrorOut}, auth=ACT)
def answer_inbound(request: HttpRequest, inbound_id: Id, payload: InboundAnswerIn) -> Any:
    """Answer the sender in the message's thread and language (link it first)."""
    inbound = _inbound(inbound_id)
    answer = inbound_answer(inbound=inbound, actor=api_actor(request), body=payload.body)
    return Status(201, notice_out(get_object_or_404(_notices(), pk=answer.pk)))


class BadAddressOut(Schema):
    id: int
    address: str
    organization_id: int | None
    reason: str
    inbound_id: int | None
    created: datetime
    allowed_at: datetime | None
    allowed_by: str


@bad_router.get("", response=Page[BadAddressOut], auth=READ)
def list_bad_addresses(
    request: HttpRequest, blocked: bool | None = None, limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Addresses that bounced, newest first; ``blocked=true`` for those not allowed again."""
    qs = BadAddress.objects.order_by("-created", "-id")
    if blocked is not None:
        qs = qs.filter(allowed_at__isnull=blocked)
    return page_of(qs, limit=limit, offset=offset, out=lambda b: b)


@bad_router.post("/{bad_id}/allow", response=BadAddressOut, auth=ACT)
def allow_bad_address(request: HttpRequest, bad_id: Id) -> Any:
    """Use a bounced address again (it may have been fixed)."""
    bad = get_object_or_404(BadAddress, pk=bad_id)
    bad_address_allow(bad, actor=api_actor(request))
    bad.refresh_from_db()
    return bad
