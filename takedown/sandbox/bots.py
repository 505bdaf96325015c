"""Bots: the people and mail systems behind each abuse address.

A bot acts on a message that reaches any address of a party: an
organisation (every address its registry records publish: abuse@, noc@,
hostmaster@ its domain), a registrar (its abuse address) or a national CSIRT
stand-in. What it does is the scenario's ``behavior`` for that party:

1. ``bounce: true``: the abuse address does not exist (``all``: no address
   of the party does); the relay returns an RFC 3464 DSN to the message's
   envelope sender for each. If the message reached no other address of the
   party, nobody there saw it and nothing else happens.
2. ``auto_reply: true``: the desk's ticket system answers at once (RFC 3834).
3. ``reply``: always, sometimes (p=0.5), rarely (p=0.15) or never, decided per
   notice by a random generator seeded with the scenario's seed and the
   organisation's id, so a run repeats exactly. The reply comes ``reply_after``
   seconds after the notice, quotes its subject (with the tracking token) and
   threads with In-Reply-To/References.
4. ``takedown_after``: the sites the message names (URLs in the text, defanged
   or not, or in an X-ARF attachment) that the party can act on go down that
   many seconds after the message: an organisation's own sites in its
   ``takedown`` style; a registrar's domains (the sites whose ``registrar``
   it is) by suspending the domain (``nxdomain``: every site under it stops
   resolving; ``suspended``: they show the registrar's page); a CSIRT's
   country's sites, in their hoster's style (the CSIRT got the hoster to act).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from takedown.lib.defang import defang
from takedown.sandbox.mail import (
    StoredMessage,
    build_auto_reply,
    build_dsn,
    build_reply,
    deliver,
)
from takedown.sandbox.scenario import Csirt, Organization, Registrar, Scenario
from takedown.sandbox.world import SiteRuntime, World

log = logging.getLogger(__name__)

REPLY_PROBABILITY = {"always": 1.0, "sometimes": 0.5, "rarely": 0.15, "never": 0.0}
AUTO_REPLY_DELAY = 0.1
BOUNCE_DELAY = 0.2

# Whoever reads mail in the sandbox.
Party = Organization | Registrar | Csirt

_REFANG = [
    (re.compile(r"(?i)\bh(?:xx|XX|\*\*|tt)p(s?)(\[:\]|\[://\]|:)//"), r"http\1://"),
    (re.compile(r"(?i)\bh(?:xx|\*\*)p(s?)\[://\]"), r"http\1://"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)", re.IGNORECASE), "."),
    (re.compile(r"\[:\]"), ":"),
]
_URL = re.compile(r"(?i)\bhttps?://[^\s<>\"'`]+")


def refang(text: str) -> str:
    for pattern, repl in _REFANG:
        text = pattern.sub(repl, text)
    return text


def urls_in(text: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?)]>'\"") for m in _URL.finditer(refang(text))]


@dataclass
class BotContext:
    scenario: Scenario
    world: World
    take_down: Callable[[str, str], Awaitable[None]]
    inbound: Callable[[], tuple[str, int] | None]
    record: Callable[[StoredMessage], None]


class Bots:
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx
        parties: list[Party] = [
            *ctx.scenario.organizations,
            *ctx.scenario.registrars,
            *ctx.scenario.csirts,
        ]
        # Organisations keep their historical seeds, so existing scenarios repeat exactly.
        self.rngs = {p.key: random.Random(f"{ctx.scenario.seed}:{p.key}") for p in parties}
        self._seen: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._tickets = 0
        # Per-organisation log of what each bot decided, for tests and the runner.
        self.decisions: list[dict[str, object]] = []

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- entry point ---

    def on_message(self, stored: StoredMessage) -> None:
        by_party: dict[str, tuple[Party, list[str]]] = {}
        for rcpt in stored.rcpt_tos:
            party = self.ctx.scenario.party_for_address(rcpt)
            if party is not None:
                by_party.setdefault(party.key, (party, []))[1].append(rcpt)
        for party, reached in by_party.values():
            self._on_notice(party, reached, stored)

    def _on_notice(self, party: Party, reached: list[str], stored: StoredMessage) -> None:
        behavior = party.behavior
        live = list(reached)
        bouncing = (
            list(party.addresses)
            if behavior.bounce == "all"
            else [party.abuse_email]
            if behavior.bounce
            else []
        )
        for address in [a for a in live if a in bouncing]:
            live.remove(address)
            if stored.mail_from:
                self._spawn(self._bounce(party, address, stored))
        if not live:
            return
        key = (party.key, stored.message_id or f"{stored.at}:{id(stored)}")
        if key in self._seen:
            return
        self._seen.add(key)
        sites = self.named_sites(party, stored)
        if isinstance(party, Registrar):
            # Suspending a domain takes every name under it, not only the one reported.
            domains = {rt.site.registered_domain for rt in sites}
            sites += [
                rt
                for rt in self.ctx.world.sites.values()
                if rt.site.registered_domain in domains and rt not in sites
            ]
        decision: dict[str, object] = {
            "at": stored.at,
            "org": party.key,
            "message_id": stored.message_id,
            "sites": [rt.site.id for rt in sites],
        }
        if behavior.auto_reply and stored.mail_from:
            self._spawn(self._auto_reply(party, stored))
        p = REPLY_PROBABILITY[behavior.reply]
        will_reply = p >= 1.0 or (p > 0 and self.rngs[party.key].random() < p)
        decision["reply"] = will_reply
        if will_reply:
            self._spawn(self._reply(party, live[0], stored, sites))
        if behavior.takedown_after is not None:
            for rt in sites:
                if rt.status == "up" and not rt.takedown_scheduled:
                    rt.takedown_scheduled = True
                    self._spawn(
                        self._take_down_later(rt, behavior.takedown_after, self._style(party, rt))
                    )
        self.decisions.append(decision)
        self.ctx.world.log(
            "notice_received", org=party.key, sites=decision["sites"], reply=will_reply
        )

    @staticmethod
    def _style(party: Party, rt: SiteRuntime) -> str:
        style = party.behavior.takedown
        # A CSIRT does not take sites down itself: the hoster does, in its way.
        return rt.org.behavior.takedown if style == "hoster" else style

    @staticmethod
    def _can_act_on(party: Party, rt: SiteRuntime) -> bool:
        if isinstance(party, Registrar):
            return rt.site.registrar == party.id and not rt.site.host_is_ip
        if isinstance(party, Csirt):
            return rt.org.country == party.country
        return rt.org.id == party.id

    def named_sites(self, party: Party, stored: StoredMessage) -> list[SiteRuntime]:
        """The sites the message names by URL or host that ``party`` can act on."""
        text = stored.subject + "\n" + stored.text()
        found: dict[str, SiteRuntime] = {}
        hosts_with_urls: set[str] = set()
        for url in urls_in(text):
            try:
                parts = urlsplit(url)
                host = (parts.hostname or "").lower()
            except ValueError:
                continue
            hosts_with_urls.add(host)
            rt, on_host = self.ctx.world.site_for(host, parts.path or "/")
            candidates = [rt] if rt is not None else on_host
            for cand in candidates:
                if self._can_act_on(party, cand):
                    found[cand.site.id] = cand
        refanged = refang(text).lower()
        for rt in self.ctx.world.sites.values():
            # A notice may name a host without a scheme ("login.bank-a.example"); a
            # URL on that host names its own path, not every site on the host.
            if (
                self._can_act_on(party, rt)
                and rt.site.id not in found
                and not rt.site.host_is_ip
                and rt.site.host not in hosts_with_urls
                and re.search(rf"(?<![\w.-]){re.escape(rt.site.host)}(?![\w-])", refanged)
            ):
                found[rt.site.id] = rt
        return list(found.values())

    # --- actions ---

    async def _take_down_later(self, rt: SiteRuntime, delay: float, style: str) -> None:
        await asyncio.sleep(delay)
        rt.takedown_scheduled = False
        if rt.status == "up":
            await self.ctx.take_down(rt.site.id, style)

    async def _reply(
        self, party: Party, address: str, stored: StoredMessage, sites: list[SiteRuntime]
    ) -> None:
        await asyncio.sleep(party.behavior.reply_after)
        original = stored.message
        to_addr = str(original.get("Reply-To") or original.get("From") or stored.mail_from)
        body = _reply_body(party, sites)
        raw = build_reply(
            original,
            from_name=f"{party.name} Abuse Desk",
            from_addr=address,
            to_addr=to_addr,
            body=body,
            domain=party.domain,
        )
        rcpt = _first_address(to_addr) or stored.mail_from
        await self._send(
            StoredMessage(self.ctx.world.now(), address, [rcpt], raw, "reply", party.key)
        )

    async def _auto_reply(self, party: Party, stored: StoredMessage) -> None:
        await asyncio.sleep(AUTO_REPLY_DELAY)
        self._tickets += 1
        ticket = f"Ticket#{2025000000 + self._tickets}"
        raw = build_auto_reply(
            stored.message,
            from_name=f"{party.name} Support",
            from_addr=party.abuse_email,
            to_addr=stored.mail_from,
            ticket=ticket,
            domain=party.domain,
        )
        # RFC 3834 section 3.3: auto-replies go out with a null return path.
        await self._send(
            StoredMessage(
                self.ctx.world.now(), "", [stored.mail_from], raw, "auto-reply", party.key
            )
        )

    async def _bounce(self, party: Party, address: str, stored: StoredMessage) -> None:
        await asyncio.sleep(BOUNCE_DELAY)
        from datetime import UTC, datetime

        raw = build_dsn(
            stored.raw,
            envelope_from=stored.mail_from,
            failed_rcpt=(party.behavior.bounce_names or address)
            if address == party.abuse_email
            else address,
            remote_mta=f"mail.{party.domain}",
            arrival=datetime.now(UTC),
        )
        await self._send(
            StoredMessage(self.ctx.world.now(), "", [stored.mail_from], raw, "bounce", party.key)
        )
        self.ctx.world.log("bounce", org=party.key, rcpt=address)

    async def _send(self, message: StoredMessage) -> None:
        self.ctx.record(message)
        await deliver(self.ctx.inbound(), message)


def _first_address(header: str) -> str:
    from email.utils import getaddresses

    for _name, addr in getaddresses([header]):
        if addr:
            return addr
    return ""


def _reply_body(party: Party, sites: list[SiteRuntime]) -> str:
    down = [rt for rt in sites if rt.status == "down"]
    urls = "\n".join(f"  {defang(rt.site.url)}" for rt in sites)
    done = bool(sites) and len(down) == len(sites)
    if isinstance(party, Registrar):
        text = (
            "The domain(s) named in your report have been suspended."
            if done
            else "Thank you for your report. We have asked the registrant to respond and "
            "will suspend the domain if the content stays up."
            if sites
            else "Thank you. The reported domain is not registered with us."
        )
        return f"Hello,\n\n{text}\n\n{urls}\n\nRegards,\n{party.name} Abuse Team\n"
    if isinstance(party, Csirt):
        text = (
            "The site(s) have been taken down by the hosting provider."
            if done
            else "Thank you. We have contacted the hosting provider in our country."
        )
        return f"Dear colleagues,\n\n{text}\n\n{urls}\n\nBest regards,\n{party.name}\n"
    if party.language == "ja":
        if done:
            ja = "ご連絡いただいたサイトについて、該当コンテンツを削除いたしました。"
            en = "We have removed the reported content."
        elif sites:
            ja = "ご連絡ありがとうございます。現在確認中です。対応が完了しましたら削除いたします。"
            en = "Thank you for your report. We are investigating and will remove the content."
        else:
            ja = "ご連絡ありがとうございます。ご指摘のサイトは弊社の管理外のようです。"
            en = "Thank you. The reported site does not appear to be on our network."
        return f"{party.name_ja or party.name}\nabuse担当\n\n{ja}\n\n{urls}\n\n--\n{en}\n"
    if done:
        text = "The reported content has been removed. Thank you for letting us know."
    elif sites:
        text = "Thank you for your report. We are looking into it and will take action."
    else:
        text = "Thank you. The reported site does not appear to be hosted on our network."
    return f"Hello,\n\n{text}\n\n{urls}\n\nRegards,\n{party.name} Abuse Team\n"
