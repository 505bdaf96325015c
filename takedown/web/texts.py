"""Texts our code stores in English, said in the reader's language.

The steps keep what they wrote about a thing as English text: an event's
``message`` ("same ip as site 3"), an inbound message's ``reason``, a failed
notice's ``error``, an outbox row's ``last_error``, a queue item's ``detail``.
English is what scripts, the JSON API and ``grep`` read, and it is already in
the database, so it stays as it is; the pages say it again in the reader's
language through ``ours(text)``, which recognises each form the code writes.

Only our own words are translated.  What a stranger wrote (a mail, a page's
title, a registry's or a mail server's answer, an exception's text) stays as
it came, inside the translated sentence.  A text no rule recognises is shown
as stored: an old or new wording reads in English rather than wrongly.

Each rule is anchored (the whole text must match), so a hostile string can
only ever be shown, escaped by the template, never become one of our
sentences by matching part of one.  The tests feed these rules with texts
written by the steps' own code, so a changed wording fails there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from takedown.cases.models import Step
from takedown.monitor.models import Outcome


def _step(code: str) -> str:
    try:
        return str(Step(code).label)
    except ValueError:
        return code


_BY: dict[str, Any] = {"server": _("server"), "ip": _("IP address"), "prefix": _("network")}


def _by(code: str) -> str:
    return str(_BY.get(code, code))


# The words the mail classifier lists in a bounce's or automatic reply's reason
# (takedown.notices.classify); header names and header values stay as they are.
_WORDS: dict[str, Any] = {
    "permanent failure": _("permanent failure"),
    "delay or transient failure": _("delay or transient failure"),
    "delivery-status part": _("delivery-status part"),
    "delivery status fields": _("delivery status fields"),
    "mail-system sender": _("mail-system sender"),
    "bounce subject": _("bounce subject"),
    "bounce wording": _("bounce wording"),
    "mailing-list rejection": _("mailing-list rejection"),
    "SES notification": _("SES notification"),
    "delivery status": _("delivery status"),
    "the MTA's wording": _("the MTA's wording"),
    "the original's only recipient": _("the original's only recipient"),
    "automatic-reply subject": _("automatic-reply subject"),
    "null return path and vacation wording": _("null return path and vacation wording"),
}


def _words(listed: str) -> str:
    return str(_(", ")).join(str(_WORDS.get(w, w)) for w in listed.split(", "))


def _recipients_from(source: str) -> str:
    return str(_("; recipients from %(source)s") % {"source": _words(source)}) if source else ""


def outcome_label(code: str) -> str:
    """A check outcome's label in the reader's language; an unknown code as it is."""
    try:
        return str(Outcome(code).label)
    except ValueError:
        return code


def _check(detail: str) -> str:
    from takedown.web.timeline import check_detail

    return check_detail(detail)


# A part that is itself one of our texts ("bounce (...)" inside an inbound reason).
OURS = "ours"
# Our texts nest one or two deep; a deeper one is a stranger's text made to look like ours.
MAX_DEPTH = 3
# Longer texts are not ours (the steps cap theirs at 2,000 characters): shown as stored.
MAX_LENGTH = 2100


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    template: Any
    # How to say a matched part: OURS, a label, or (unnamed) as it came.
    parts: dict[str, Callable[[str], str] | str] = field(default_factory=dict)


def _rule(pattern: str, template: Any, **parts: Callable[[str], str] | str) -> Rule:
    return Rule(re.compile(pattern, re.DOTALL), template, parts)


def ours(text: str, *, depth: int = 0) -> str:
    """``text`` in the reader's language when our code wrote it, else as it is."""
    if not text or len(text) > MAX_LENGTH or depth > MAX_DEPTH:
        return text
    for rule in RULES:
        match = rule.pattern.fullmatch(text)
        if match is None:
            continue
        values = {}
        for name, value in match.groupdict().items():
            say = rule.parts.get(name)
            if say == OURS:
                values[name] = ours(value or "", depth=depth + 1)
            elif callable(say):
                values[name] = say(value or "")
            else:
                values[name] = value or ""
        return str(rule.template) % values
    return text


RULES: list[Rule] = [
    # The queue's own items (takedown.cases.selectors).
    _rule(
        r"(?P<step>[a-z_]+) failed (?P<n>\d+) times: (?P<error>.*)",
        _("The automatic step “%(step)s” failed %(n)s times: %(error)s"),
        step=_step,
    ),
    # Revivals and recurrences (takedown.monitor.services).
    _rule(
        r"same (?P<by>server|ip|prefix) as site (?P<site>\d+)",
        _("same %(by)s as site %(site)s"),
        by=_by,
    ),
    _rule(
        r"site (?P<site>\d+) appeared on the same (?P<by>server|ip|prefix)",
        _("site %(site)s appeared on the same %(by)s"),
        by=_by,
    ),
    _rule(r"up again: (?P<detail>.*)", _("up again: %(detail)s"), detail=_check),
    # Checks that proved nothing (takedown.monitor.services, .selectors).
    _rule(
        r"(?P<count>\d+) inconclusive checks in a row, the last: (?P<outcome>[a-z_]+)",
        _("%(count)s inconclusive checks in a row, the last: %(outcome)s"),
        outcome=outcome_label,
    ),
    _rule(
        r"no check conclusive \((?P<count>\d+) in a row\), notified on the report: (?P<detail>.*)",
        _("no check conclusive (%(count)s in a row), notified on the report: %(detail)s"),
        detail=_check,
    ),
    # Locating (takedown.locate.engine, .services, .resolver).
    _rule(
        r"(?P<reason>.*) \(no further automatic retries\)",
        _("%(reason)s (no further automatic retries)"),
        reason=OURS,
    ),
    _rule(
        r"DNS: (?P<code>[a-z_]+) \((?P<error>.*)\)",
        _("DNS %(code)s: %(error)s"),
        code=str.upper,
        error=OURS,
    ),
    _rule(r"DNS: (?P<code>[a-z_]+)", _("DNS %(code)s"), code=str.upper),
    _rule(r"the name does not exist", _("the name does not exist")),
    _rule(r"CNAME chain too long or looping", _("CNAME chain too long or looping")),
    _rule(r"CNAME loop", _("CNAME loop")),
    _rule(r"no answer within (?P<s>[\d.]+)s", _("no answer within %(s)s s")),
    _rule(r"no (?P<rr>A|AAAA) record", _("no %(rr)s record")),
    _rule(
        r"resolves only to addresses that are not public: (?P<what>.*)",
        _("resolves only to addresses that are not public: %(what)s"),
    ),
    _rule(r"registry lookup failed: (?P<errors>.*)", _("registry lookup failed: %(errors)s")),
    _rule(r"internal error: (?P<error>.*)", _("internal error: %(error)s")),
    _rule(r"not located", _("not located")),
    # Inbound mail (takedown.notices.services, .classify): why it went where it did.
    _rule(
        r"looks like a reply but names no notice of ours: In-Reply-To (?P<irt>.*) is not a"
        r" message we sent and the subject has no token",
        _(
            "looks like a reply but names no notice of ours: In-Reply-To %(irt)s is not a"
            " message we sent and the subject has no token"
        ),
    ),
    _rule(
        r"from (?P<address>.*), a contact we sent notices to, without a token",
        _("from %(address)s, a contact we sent notices to, without a token"),
    ),
    _rule(
        r"names report token\(s\) (?P<tokens>.*) that do not exist",
        _("names report token(s) %(tokens)s that do not exist"),
    ),
    _rule(
        r"(?P<reason>.*); not sent to a signed envelope sender of ours and quotes no Message-ID"
        r" we sent, so no address is marked bad; it may concern (?P<token>\S+) \((?P<how>[^()]*)\)",
        _(
            "%(reason)s; not sent to a signed envelope sender of ours and quotes no Message-ID"
            " we sent, so no address is marked bad; it may concern %(token)s (%(how)s)"
        ),
        reason=OURS,
        how=OURS,
    ),
    _rule(
        r"(?P<reason>.*); not sent to a signed envelope sender of ours and quotes no Message-ID"
        r" we sent, so no address is marked bad",
        _(
            "%(reason)s; not sent to a signed envelope sender of ours and quotes no Message-ID"
            " we sent, so no address is marked bad"
        ),
        reason=OURS,
    ),
    _rule(
        r"(?P<reason>.*); for (?P<token>\S+) \((?P<how>[^()]*)\); bad: (?P<bad>.*)",
        _("%(reason)s; for %(token)s (%(how)s); addresses marked bad: %(bad)s"),
        reason=OURS,
        how=OURS,
        bad=lambda bad: str(_("none")) if bad == "none" else bad,
    ),
    _rule(
        r"bounce \((?P<kind>[^;()]*); (?P<signals>[^;()]*)"
        r"(?:; recipients from (?P<source>[^;()]*))?\)",
        _("bounce (%(kind)s; %(signals)s%(source)s)"),
        kind=_words,
        signals=_words,
        source=_recipients_from,
    ),
    _rule(r"bounce \((?P<details>.*)\)", _("bounce (%(details)s)")),
    _rule(
        r"automatic reply \((?P<signals>[^()]*)\)",
        _("automatic reply (%(signals)s)"),
        signals=_words,
    ),
    _rule(r"written by a person", _("written by a person")),
    _rule(
        r"reply to (?P<token>\S+) \((?P<how>[^()]*)\)",
        _("reply to %(token)s (%(how)s)"),
        how=OURS,
    ),
    _rule(
        r"signed envelope sender for (?P<address>.*)",
        _("signed envelope sender for %(address)s"),
    ),
    _rule(r"In-Reply-To/References (?P<id>.*)", _("In-Reply-To/References %(id)s")),
    _rule(r"original message (?P<id>.*)", _("original message %(id)s")),
    _rule(
        r"token (?P<token>\S+) in the original subject",
        _("token %(token)s in the original subject"),
    ),
    _rule(r"token (?P<token>\S+) in the subject", _("token %(token)s in the subject")),
    _rule(
        r"failed recipient matches the latest notice sent to it",
        _("failed recipient matches the latest notice sent to it"),
    ),
    _rule(
        r"the reporter wrote about (?P<token>\S+); left for a handler",
        _("the reporter wrote about %(token)s; left for a handler"),
    ),
    _rule(
        r"new report (?P<token>\S+): (?P<n>\d+) site\(s\)",
        _("new report %(token)s: %(n)s site(s)"),
    ),
    _rule(
        r"new report; intake could not use it: (?P<error>.*)",
        _("new report; intake could not use it: %(error)s"),
        error=OURS,
    ),
    # Intake's refusals of a mailed report (takedown.intake.services).
    _rule(r"no URL found in the report", _("no URL found in the report")),
    _rule(
        r"report is (?P<size>\d+) bytes, more than the limit of (?P<limit>\d+)",
        _("report is %(size)s bytes, more than the limit of %(limit)s"),
    ),
    _rule(r"linked to (?P<token>\S+) by (?P<actor>.*)", _("linked to %(token)s by %(actor)s")),
    _rule(r"processing failed: (?P<error>.*)", _("processing failed: %(error)s")),
    # Notices that failed, and mail whose sending is uncertain (takedown.notices.services).
    _rule(
        r"no usable address for (?P<org>.*): every known contact bounced or none is recorded",
        _("no usable address for %(org)s: every known contact bounced or none is recorded"),
    ),
    _rule(
        r"the mail server refused the message: (?P<error>.*)",
        _("the mail server refused the message: %(error)s"),
    ),
    _rule(r"compose: (?P<error>.*)", _("the notice could not be composed: %(error)s")),
    _rule(r"no site still needs this notice", _("no site still needs this notice")),
    _rule(
        r"the worker sending this message stopped; it may or may not have left",
        _("the worker sending this message stopped; it may or may not have left"),
    ),
    _rule(r"recipients refused: (?P<refused>.*)", _("recipients refused: %(refused)s")),
    _rule(
        r"no responsible organisation is known for the site",
        _("no responsible organisation is known for the site"),
    ),
    _rule(
        r"withdrawn before sending: a site in it is no longer closed",
        _("withdrawn before sending: a site in it is no longer closed"),
    ),
    _rule(
        r"not named in the notice: the site was no longer up when it was composed",
        _("not named in the notice: the site was no longer up when it was composed"),
    ),
    _rule(
        r"the reporter has no address we may write to, or asked not to be told",
        _("the reporter has no address we may write to, or asked not to be told"),
    ),
    _rule(
        r"the site was seen up again before the closure message was written",
        _("the site was seen up again before the closure message was written"),
    ),
    _rule(
        r"the site was seen up again before the closure message left",
        _("the site was seen up again before the closure message left"),
    ),
    # Threads with no rung left (takedown.notices.escalation, .selectors).
    _rule(
        r"no contact left: every address bounced or none is known",
        _("no contact left: every address bounced or none is known"),
    ),
    _rule(
        r"still up after the last message \(to (?P<rung>[^()]*)\)",
        _("still up after the last message (to %(rung)s)"),
    ),
    _rule(
        r"still up after the last message; no further contact is known",
        _("still up after the last message; no further contact is known"),
    ),
    _rule(
        r"nobody could be reached: every contact bounced or none is known",
        _("nobody could be reached: every contact bounced or none is known"),
    ),
]
