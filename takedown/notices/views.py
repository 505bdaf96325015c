"""Handler views for notices and inbound mail: thin, over the services.

Inbound mail is shown as escaped text only; the raw message is offered as a
download (``application/octet-stream``, ``attachment``, ``nosniff``) and is
never rendered as HTML.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from takedown.access.redirects import local_next
from takedown.access.roles import Role, request_actor, role_required
from takedown.cases.services import ActionError
from takedown.lib.ids import parse_id
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
    NoticeState,
    OutboxMessage,
)
from takedown.notices.services import bad_address_allow, notice_close_per_admin


def _filtered_list(
    request: HttpRequest,
    qs: QuerySet[Any],
    field: str,
    values: list[str],
    extra: dict[str, Any],
    template: str,
) -> HttpResponse:
    """A page of ``qs``, narrowed to ``?<field>=`` when that names a known value."""
    chosen = request.GET.get(field, "")
    if chosen in values:
        qs = qs.filter(**{field: chosen})
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, template, {"page": page, field: chosen, **extra})


@role_required(Role.VIEWER)
def notice_list(request: HttpRequest) -> HttpResponse:
    qs = Notice.objects.select_related("organization", "reporter").order_by("-created", "-id")
    return _filtered_list(
        request,
        qs,
        "state",
        NoticeState.values,
        {"states": NoticeState.choices},
        "notices/notice_list.html",
    )


@role_required(Role.VIEWER)
def notice_detail(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = get_object_or_404(
        Notice.objects.select_related("organization", "reporter", "report", "parent"), pk=notice_id
    )
    root = notice.root
    thread = [root, *root.thread.order_by("created", "pk")]
    inbound = InboundMessage.objects.filter(notice__in=thread).order_by("received")
    outbox = OutboxMessage.objects.filter(notice=notice).defer("raw").first()
    return render(
        request,
        "notices/notice_detail.html",
        {
            "notice": notice,
            "thread": thread,
            "sites": notice.sites.order_by("pk"),
            "inbound": inbound,
            "outbox": outbox,
            "draft": answer_draft(notice=notice),
        },
    )


@role_required(Role.HANDLER)
@require_POST
def notice_close(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = get_object_or_404(Notice, pk=notice_id)
    inbound = None
    inbound_id = parse_id(request.POST.get("inbound", ""))
    if inbound_id is not None:
        inbound = InboundMessage.objects.filter(pk=inbound_id, notice__isnull=False).first()
    notice_close_per_admin(notice, actor=request.user.get_username(), inbound=inbound)
    messages.success(
        request, _("Marked as closed per the administrator; the sites are checked now.")
    )
    return redirect("notice_detail", notice_id=notice.pk)


@role_required(Role.VIEWER)
def inbound_list(request: HttpRequest) -> HttpResponse:
    qs = InboundMessage.objects.defer("raw").select_related("notice").order_by("-received", "-id")
    return _filtered_list(
        request,
        qs,
        "kind",
        InboundKind.values,
        {"kinds": InboundKind.choices},
        "notices/inbound_list.html",
    )


@role_required(Role.VIEWER)
def inbound_detail(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(
        InboundMessage.objects.select_related("notice", "report"), pk=inbound_id
    )
    parsed = classify_message(bytes(inbound.raw))
    candidates = []
    if inbound.notice_id is None:
        # Notices most likely answered: the latest ones sent to the sender's address.
        sender = (parsed.from_address or inbound.mail_from or "").lower()
        if sender:
            candidates = list(
                Notice.objects.filter(recipients__icontains=sender, sent_at__isnull=False)
                .select_related("organization")
                .order_by("-sent_at")[:10]
            )
    return render(
        request,
        "notices/inbound_detail.html",
        {
            "inbound": inbound,
            "text": parsed.text[:100_000],
            "parsed": parsed,
            "candidates": candidates,
            "draft": answer_draft(inbound=inbound),
        },
    )


@role_required(Role.VIEWER)
def inbound_raw(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(InboundMessage, pk=inbound_id)
    response = HttpResponse(bytes(inbound.raw), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="inbound-{inbound.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@role_required(Role.VIEWER)
def bad_address_list(request: HttpRequest) -> HttpResponse:
    qs = BadAddress.objects.select_related("organization").order_by("-created")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "notices/bad_address_list.html", {"page": page})


@role_required(Role.HANDLER)
@require_POST
def bad_address_allow_view(request: HttpRequest, bad_id: int) -> HttpResponse:
    bad = get_object_or_404(BadAddress, pk=bad_id)
    bad_address_allow(bad, actor=request.user.get_username())
    messages.success(request, _("%(address)s may be used again.") % {"address": bad.address})
    return redirect("bad_address_list")


# --- handler actions (docs/workbench.md) -------------------------------------------


def _back(request: HttpRequest, default: str) -> HttpResponse:
    return redirect(local_next(request, default))


def _notice_by_token(text: str) -> Notice | None:
    """``TKD#N12-<tag>``, ``TKD#N12``, ``N12`` or ``12``: the notice a handler names.

    A handler is trusted to name any notice by its number; a tag, when given
    (as copied from a subject line), must be the notice's own.
    """
    digits, _sep, tag = text.strip().upper().removeprefix("TKD#").removeprefix("N").partition("-")
    number = parse_id(digits)
    if number is None:
        return None
    notice = Notice.objects.filter(pk=number).first()
    if notice is not None and tag and tag.strip().lower() != notice.token_tag.lower():
        return None
    return notice


def _attempt(request: HttpRequest, target: str, act: Any, success: Any) -> HttpResponse:
    """Run one handler action; say what happened; go back where the handler was.

    ``success`` builds the message from the action's result, after it ran.
    """
    try:
        result = act()
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success(result))
    return _back(request, target)


@role_required(Role.HANDLER)
@require_POST
def notice_resend_view(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = get_object_or_404(Notice, pk=notice_id)
    recipients = request.POST.get("recipients", "").replace(";", ",").split(",")
    return _attempt(
        request,
        reverse("notice_detail", args=[notice.pk]),
        lambda: notice_resend(notice=notice, actor=request_actor(request), recipients=recipients),
        lambda resend: _("%(token)s is queued again.") % {"token": resend.token},
    )


@role_required(Role.HANDLER)
@require_POST
def notice_answer_view(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = get_object_or_404(Notice, pk=notice_id)
    to = request.POST.get("to", "").replace(";", ",").split(",")
    return _attempt(
        request,
        reverse("notice_detail", args=[notice.pk]),
        lambda: notice_answer(
            notice=notice, actor=request_actor(request), body=request.POST.get("body", ""), to=to
        ),
        lambda _answer: _("The answer is queued in the thread."),
    )


def _inbound_target(inbound: InboundMessage) -> str:
    return reverse("inbound_detail", args=[inbound.pk])


@role_required(Role.HANDLER)
@require_POST
def inbound_link_view(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(InboundMessage.objects.defer("raw"), pk=inbound_id)
    notice = _notice_by_token(request.POST.get("notice", ""))
    if notice is None:
        messages.error(request, _("No such notice."))
        return _back(request, _inbound_target(inbound))
    return _attempt(
        request,
        _inbound_target(inbound),
        lambda: inbound_link(inbound=inbound, notice=notice, actor=request_actor(request)),
        lambda _msg: _("Linked to %(token)s.") % {"token": notice.token},
    )


@role_required(Role.HANDLER)
@require_POST
def inbound_to_report_view(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(InboundMessage, pk=inbound_id)
    return _attempt(
        request,
        _inbound_target(inbound),
        lambda: inbound_to_report(inbound=inbound, actor=request_actor(request)),
        lambda msg: _("Taken as a report: %(why)s") % {"why": msg.reason},
    )


@role_required(Role.HANDLER)
@require_POST
def inbound_handled_view(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(InboundMessage.objects.defer("raw"), pk=inbound_id)
    note = request.POST.get("note", "")
    return _attempt(
        request,
        _inbound_target(inbound),
        lambda: inbound_mark_handled(inbound=inbound, actor=request_actor(request), note=note),
        lambda _event: _("Marked handled."),
    )


@role_required(Role.HANDLER)
@require_POST
def inbound_answer_view(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = get_object_or_404(InboundMessage.objects.defer("raw"), pk=inbound_id)
    body = request.POST.get("body", "")
    return _attempt(
        request,
        _inbound_target(inbound),
        lambda: inbound_answer(inbound=inbound, actor=request_actor(request), body=body),
        lambda _answer: _("The answer is queued in the thread."),
    )
