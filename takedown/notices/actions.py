"""What a handler does with notices and inbound mail (docs/workbench.md).

Each function is one action of the handler's workbench, called by the web
views, the JSON API and the CLI alike; each writes its timeline event with
the acting user as ``actor``.  The automatic loop lives in the other
modules of ``takedown.notices`` (docs/notices.md); these functions reuse its
composing and routing steps so a message a handler sends is built, threaded,
queued and recorded exactly like one the loop sends, and change states only
through ``services.notice_transition`` / ``services.inbound_transition``.

1. ``sites_notify_now``: notify the sites' organisations now (a collecting
   notice is sent without waiting for its batching window; otherwise a new
   notice, or a re-send in the sites' thread), optionally to addresses the
   handler chose.
2. ``notice_resend``: send a thread's message again, to the same or chosen
   addresses.
3. ``inbound_link``, ``inbound_mark_handled``, ``inbound_to_report``: route a
   message the automation could not place.
4. ``inbound_answer`` / ``notice_answer``: write back in the notice's thread
   and language.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from takedown.cases.models import Event, EventKind, Site
from takedown.cases.services import ActionError, event_record
from takedown.notices.classify import classify_message
from takedown.notices.compose import org_language
from takedown.notices.contacts import clean_addresses
from takedown.notices.inbound import reply_record, to_intake
from takedown.notices.models import (
    NOTICEABLE,
    STILL_UP,
    InboundKind,
    InboundMessage,
    Notice,
    NoticeKind,
    NoticeSite,
    NoticeState,
)
from takedown.notices.outbox import outbox_enqueue
from takedown.notices.planning import compose_org_notice
from takedown.notices.services import inbound_transition, notice_create_once

# States in which a handler may have a site's organisation told now.
NOTIFIABLE = NOTICEABLE | STILL_UP


def _recipients(recipients: Iterable[str] | None) -> list[str] | None:
    """The handler's chosen addresses, cleaned; None when the directory decides."""
    if recipients is None:
        return None
    raw = [r for r in recipients if isinstance(r, str) and r.strip()]
    if not raw:
        return None
    cleaned = clean_addresses(raw)
    if len(cleaned) != len({r.strip().strip("<>").lower() for r in raw}):
        bad = [r for r in raw if not clean_addresses([r])]
        raise ActionError(
            _("not an e-mail address: %(addresses)s") % {"addresses": ", ".join(bad[:5])}
        )
    return cleaned


def _latest_thread(site: Site) -> Notice | None:
    """The root of the newest organisation thread that told this site's holder."""
    ns = (
        NoticeSite.objects.filter(
            site=site,
            notice__kind__in=[NoticeKind.INITIAL, NoticeKind.REVIVAL],
            notice__sent_at__isnull=False,
        )
        .select_related("notice")
        .order_by("-notice__sent_at", "-notice_id")
        .first()
    )
    return ns.notice if ns is not None else None


def _decision(sites: list[Site]) -> int:
    """The newest event of these sites, handler requests aside.

    It keys a handler's request: the same click sent twice (a double click, a
    retried form) finds the same key and makes no second notice, while a
    request after anything happened to the sites (the notice left, a bounce,
    a reply) is a new decision.
    """
    return (
        Event.objects.filter(site__in=sites)
        .exclude(kind=EventKind.NOTICE_REQUESTED)
        .aggregate(m=Max("id"))["m"]
        or 0
    )


def sites_notify_now(
    *, sites: Iterable[Site], actor: str, recipients: Iterable[str] | None = None
) -> list[Notice]:
    """Tell each site's organisation now; returns the notices queued or hurried.

    Sites are grouped by organisation, one notice per group.  Without chosen
    recipients, a group already waiting in its organisation's collecting
    notice is sent at once (its batching window is cut short).  Otherwise a
    notice goes out now: a re-send in the group's existing thread when it has
    one, else a first notice.  A site with no known organisation needs
    recipients chosen by the handler.
    """
    chosen = _recipients(recipients)
    site_list = list(sites)
    if not site_list:
        raise ActionError(_("no site to notify"))
    problems = []
    for site in site_list:
        site.refresh_from_db(fields=["state", "organization", "historical"])
        if site.historical:
            problems.append(_("site %(site)s is imported history") % {"site": site.pk})
        elif site.state not in NOTIFIABLE:
            problems.append(
                _("site %(site)s is %(state)s: only open, located sites are notified")
                % {"site": site.pk, "state": site.state}
            )
        elif site.organization_id is None and chosen is None:
            problems.append(
                _("site %(site)s has no known organisation: choose the recipients")
                % {"site": site.pk}
            )
    if problems:
        raise ActionError("; ".join(problems))
    groups: dict[int | None, list[Site]] = defaultdict(list)
    for site in site_list:
        groups[site.organization_id].append(site)
    out = []
    for group in groups.values():
        notice = _notify_group(group, actor=actor, chosen=chosen)
        if notice is not None:
            out.append(notice)
    return out


def _requested(sites: list[Site], org: Any, actor: str, data: dict[str, Any]) -> None:
    """The handler's request, on each site's timeline."""
    for site in sites:
        event_record(
            kind=EventKind.NOTICE_REQUESTED, site=site, organization=org, actor=actor, data=data
        )


def _notify_group(sites: list[Site], *, actor: str, chosen: list[str] | None) -> Notice | None:
    org = sites[0].organization
    now = timezone.now()
    if chosen is None and org is not None:
        collecting = Notice.objects.filter(
            organization=org, state=NoticeState.COLLECTING, sites__in=sites
        ).first()
        if collecting is not None:
            Notice.objects.filter(pk=collecting.pk).update(send_after=now)
            _requested(sites, org, actor, {"notice": collecting.pk, "hurried": True})
            return collecting
    thread = _latest_thread(sites[0])
    key = f"handler:{org.pk if org else 0}:{','.join(str(s.pk) for s in sites)}:{_decision(sites)}"
    with transaction.atomic():
        notice = notice_create_once(
            sites,
            kind=NoticeKind.RESEND if thread is not None else NoticeKind.INITIAL,
            organization=org,
            parent=thread,
            language=thread.language if thread is not None else org_language(org),
            idempotency_key=key[:200],
        )
        if notice is None:
            raise ActionError(_("this request was already made; the notice is on its way"))
        _requested(sites, org, actor, {"notice": notice.pk, "to": chosen or []})
        compose_org_notice(notice, sites, to=chosen, threaded=thread is not None)
    notice.refresh_from_db()
    return notice


def notice_resend(*, notice: Notice, actor: str, recipients: Iterable[str] | None = None) -> Notice:
    """Send the thread's message again to the same (or chosen) addresses, in the thread."""
    chosen = _recipients(recipients)
    root = notice.root
    if root.kind not in {NoticeKind.INITIAL, NoticeKind.REVIVAL}:
        raise ActionError(
            _("%(notice)s is not a notice to an organisation") % {"notice": notice.token}
        )
    sites = list(root.sites.filter(state__in=NOTIFIABLE, historical=False).order_by("pk"))
    if not sites:
        raise ActionError(_("no site of %(notice)s is still up") % {"notice": root.token})
    to = chosen or clean_addresses(notice.recipients)
    if not to:
        raise ActionError(
            _("%(notice)s has no address to send to: choose the recipients")
            % {"notice": notice.token}
        )
    key = f"handler-resend:{root.pk}:{','.join(sorted(to))}:{_decision(sites)}"
    with transaction.atomic():
        resend = notice_create_once(
            sites,
            kind=NoticeKind.RESEND,
            organization=root.organization,
            parent=root,
            language=root.language,
            idempotency_key=key[:200],
        )
        if resend is None:
            raise ActionError(_("this request was already made; the notice is on its way"))
        _requested(
            sites, root.organization, actor, {"notice": resend.pk, "resend_of": notice.pk, "to": to}
        )
        compose_org_notice(resend, sites, to=to, threaded=True)
    resend.refresh_from_db()
    return resend


# --- inbound mail -----------------------------------------------------------------


def _handled(inbound: InboundMessage, actor: str) -> None:
    InboundMessage.objects.filter(pk=inbound.pk).update(handled_by=actor[:150])
    inbound.handled_by = actor[:150]


def inbound_link(*, inbound: InboundMessage, notice: Notice, actor: str) -> InboundMessage:
    """This message answers ``notice``: record it as a reply in the notice's thread."""
    if notice.sent_at is None and notice.root.sent_at is None:
        raise ActionError(
            _("%(notice)s was never sent: a message cannot answer it") % {"notice": notice.token}
        )
    if inbound.notice_id == notice.pk:
        raise ActionError(
            _("the message is already linked to %(notice)s") % {"notice": notice.token}
        )
    sites = list(notice.root.sites.all())
    reason = f"linked to {notice.token} by {actor}"
    details = {**(inbound.details or {}), "matched_by": f"handler {actor}"}
    with transaction.atomic():
        if inbound.kind in {InboundKind.AUTO_REPLY, InboundKind.BOUNCE}:
            # Sorted right, only not placed: it keeps its kind and gets its notice.
            InboundMessage.objects.filter(pk=inbound.pk).update(
                notice=notice, reason=reason, details=details, handled_by=actor[:150]
            )
            inbound.notice, inbound.reason, inbound.details = notice, reason, details
            inbound.handled_by = actor[:150]
            _inbound_event(inbound, EventKind.INBOUND_LINKED, actor)
        elif not inbound_transition(
            inbound,
            InboundKind.REPLY,
            reason=reason,
            kind=EventKind.INBOUND_LINKED,
            actor=actor,
            notice=notice,
            fields={"details": details, "handled_by": actor[:150]},
            sites=sites,
        ):
            raise ActionError(
                _("a message sorted as %(kind)s cannot be linked as a reply")
                % {"kind": inbound.kind}
            )
        reply_record(notice, inbound, human=inbound.kind == InboundKind.REPLY)
    return inbound


def inbound_mark_handled(*, inbound: InboundMessage, actor: str, note: str = "") -> Event:
    """Nothing more to do with this message (read, answered elsewhere, spam)."""
    if inbound.handled_by:
        raise ActionError(_("already handled by %(user)s") % {"user": inbound.handled_by})
    with transaction.atomic():
        _handled(inbound, actor)
        return _inbound_event(inbound, EventKind.INBOUND_HANDLED, actor, note.strip()[:2000])


def _inbound_event(
    inbound: InboundMessage, kind: EventKind, actor: str, message: str = ""
) -> Event:
    notice = inbound.notice
    data = {"inbound": inbound.pk, "subject": inbound.subject[:200]}
    if notice is None:
        return event_record(kind=kind, actor=actor, message=message, data=data)
    last = None
    for site in notice.root.sites.all():
        last = event_record(
            kind=kind,
            site=site,
            organization=notice.organization,
            actor=actor,
            message=message,
            data={**data, "notice": notice.pk},
        )
    return last or event_record(kind=kind, actor=actor, message=message, data=data)


def inbound_to_report(*, inbound: InboundMessage, actor: str) -> InboundMessage:
    """The message is an incident report: hand it to intake as one."""
    if inbound.report_id is not None:
        raise ActionError(
            _("the message is already report TKD-R%(report)s") % {"report": inbound.report_id}
        )
    raw = bytes(inbound.raw)
    with transaction.atomic():
        routed = to_intake(inbound, raw, classify_message(raw))
        if not inbound_transition(
            inbound,
            InboundKind.REPORT,
            reason=routed.reason,
            kind=EventKind.INBOUND_TO_REPORT,
            actor=actor,
            report=routed.report,
            fields={"handled_by": actor[:150]},
        ):
            raise ActionError(
                _("a message sorted as %(kind)s cannot be made a report") % {"kind": inbound.kind}
            )
    return inbound


def answer_draft(*, notice: Notice | None = None, inbound: InboundMessage | None = None) -> str:
    """The start of an answer in the thread's language, for the handler to complete."""
    target = _answer_target(notice, inbound)
    party = str(target.organization or target.reporter or "") if target else ""
    lang = target.language if target is not None and target.language in {"ja", "en"} else "en"
    return (
        str(
            render_to_string(
                f"notices/mail/answer.{lang}.txt",
                {
                    "party": party,
                    "token": target.token if target is not None else "",
                    "team_name": settings.TEAM_NAME,
                    "team_email": settings.NOTICE_FROM,
                },
            )
        ).strip("\n")
        + "\n"
    )


def _answer_target(notice: Notice | None, inbound: InboundMessage | None) -> Notice | None:
    """The thread an answer goes in: the message's notice, or a reporter's acknowledgement."""
    if notice is None and inbound is not None:
        notice = inbound.notice
        if notice is None and inbound.report_id is not None:
            # A reporter wrote about their report: answer in the acknowledgement's thread.
            notice = Notice.objects.filter(report_id=inbound.report_id, kind=NoticeKind.ACK).first()
    return notice.root if notice is not None else None


def inbound_answer(*, inbound: InboundMessage, actor: str, body: str) -> Notice:
    """Answer the sender of ``inbound`` in its notice's thread and language."""
    notice = _answer_target(None, inbound)
    if notice is None:
        raise ActionError(_("link the message to its notice first"))
    sender = clean_addresses([_sender(inbound)])
    return notice_answer(notice=notice, actor=actor, body=body, to=sender, inbound=inbound)


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _sender(inbound: InboundMessage) -> str:
    from email.utils import parseaddr

    return parseaddr(inbound.from_header)[1] or inbound.mail_from


def notice_answer(
    *,
    notice: Notice,
    actor: str,
    body: str,
    to: Iterable[str] | None = None,
    inbound: InboundMessage | None = None,
) -> Notice:
    """A message written by a handler, in ``notice``'s thread (its token and references)."""
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise ActionError(_("the answer is empty"))
    root = notice.root
    addresses = _recipients(to) or clean_addresses(root.recipients)
    if not addresses:
        raise ActionError(_("no address to answer to"))
    subject = root.subject or notice.subject or root.token
    if root.token not in subject:
        subject = f"[{root.token}] {subject}"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    if Notice.objects.filter(idempotency_key=f"answer:{root.pk}:{_digest(body)}").exists():
        raise ActionError(_("this answer was already sent"))
    with transaction.atomic():
        answer = Notice.objects.create(
            kind=NoticeKind.ANSWER,
            state=NoticeState.QUEUED,
            organization=root.organization,
            reporter=root.reporter,
            report=root.report,
            parent=root,
            language=root.language,
            # The same text sent twice (a double click) is one answer.
            idempotency_key=f"answer:{root.pk}:{_digest(body)}",
        )
        outbox_enqueue(answer, subject=subject, body=body + "\n", to=addresses, threaded=True)
        if inbound is not None:
            _handled(inbound, actor)
        for site in root.sites.all():
            event_record(
                kind=EventKind.NOTICE_ANSWERED,
                site=site,
                organization=root.organization,
                actor=actor,
                data={
                    "notice": answer.pk,
                    "thread": root.pk,
                    "to": addresses,
                    "inbound": inbound.pk if inbound else None,
                },
            )
    return answer
