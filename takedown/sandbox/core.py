"""``Sandbox``: the whole simulated internet in one object.

All servers share one asyncio event loop that runs in a background thread, so a
test, the ``sandbox up`` command or the ``sandbox run`` driver can start it,
talk to it with ordinary blocking clients, and stop it::

    with Sandbox("scenarios/seed-cases.yaml") as sb:
        env = sb.env()                      # the settings that point the service at it
        sb.take_down("s1", "nxdomain")      # change the world by hand
        sb.wait_until(lambda: sb.outbox)    # wait for the service's first mail

Everything listens on 127.0.0.0/8, on ports chosen free at start (the site farm
can be given fixed ports, e.g. 80/443), and ``stop()`` closes every socket and
ends the thread: nothing is left behind.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import trustme

from takedown.lib.waiting import wait_until
from takedown.sandbox.bots import BotContext, Bots
from takedown.sandbox.dnsserver import DnsServer, DnsTable
from takedown.sandbox.farm import Farm
from takedown.sandbox.mail import SmtpRelay, StoredMessage
from takedown.sandbox.rdap import RdapServer
from takedown.sandbox.scenario import Organization as ScenarioOrganization
from takedown.sandbox.scenario import Scenario, load_scenario
from takedown.sandbox.whois import WhoisServer
from takedown.sandbox.world import Event, SiteRuntime, World

log = logging.getLogger(__name__)

T = TypeVar("T")
LOCALHOST = "127.0.0.1"


class SandboxError(RuntimeError):
    pass


class Sandbox:
    """The simulated internet described by a scenario.

    Attributes worth knowing (valid after ``start()``):

    - ``dns_port``, ``smtp_port``, ``http_port``, ``https_port``, ``whois_ports``
      (server name -> port), ``rdap_bootstrap_url``, ``ca_path``
    - ``outbox``: every message the service sent through the relay, in order
    - ``reporter_mail``: reporter address -> messages the service sent to it
    - ``bot_mail``: every message the organisations sent back (replies, bounces,
      auto-replies), with ``delivered`` telling whether the service took it
    - ``notices``: one entry per message that reached an organisation's address:
      ``{"at", "org", "sites", "message_id", "rcpts"}``
    - ``escalations``: the same for messages that reached a registrar or a
      CSIRT stand-in, with ``"party"`` (``registrar:<id>``, ``csirt:<CC>``)
    - ``rdap_queries``, ``whois_queries``, ``dns_queries``: counters per registry
      or server (``dns_queries`` per query type)
    - ``events``: the sandbox's own timeline (takedowns, revivals, notices...)
    """

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        inbound: tuple[str, int] | None = None,
        http_port: int = 0,
        https_port: int = 0,
        dns_port: int = 0,
        smtp_port: int = 0,
        workdir: str | Path | None = None,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.inbound = inbound
        self._wanted_ports = {
            "http": http_port,
            "https": https_port,
            "dns": dns_port,
            "smtp": smtp_port,
        }
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.world = World(self.scenario)
        self.outbox: list[StoredMessage] = []
        self.bot_mail: list[StoredMessage] = []
        self.reporter_mail: dict[str, list[StoredMessage]] = {}
        self.notices: list[dict[str, Any]] = []
        self.escalations: list[dict[str, Any]] = []
        self.dns_table = DnsTable()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._timers: set[asyncio.TimerHandle | asyncio.Task[Any]] = set()
        self._started = False
        self.ca_path = ""

    # --- lifecycle ------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Sandbox:
        if self._started:
            return self
        smtp_log = logging.getLogger("mail.log")
        if smtp_log.level == logging.NOTSET:
            # aiosmtpd logs every SMTP command at INFO; the sandbox's mail is in ``outbox``.
            smtp_log.setLevel(logging.WARNING)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="takedown-sandbox-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run_loop, args=(ready,), name="takedown-sandbox", daemon=True
        )
        self._thread.start()
        ready.wait()
        self._started = True
        try:
            self.call(self._astart(), timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop, thread = self._loop, self._thread
        try:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(self._astop(), loop).result(timeout=30)
        except Exception:
            log.exception("sandbox: error while stopping")
        finally:
            if loop.is_running():
                loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=30)
            self._loop = None
            self._thread = None
            self._started = False
            if self._own_workdir and self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _run_loop(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30) -> T:
        """Run a coroutine on the sandbox's loop from another thread and return its result."""
        if self._loop is None:
            coro.close()
            raise SandboxError("the sandbox is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)

    async def _astart(self) -> None:
        assert self.workdir is not None
        self.ca = trustme.CA(organization_name="Takedown Sandbox CA")
        self.untrusted_ca = trustme.CA(organization_name="Untrusted Sandbox CA")
        ca_file = self.workdir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(ca_file))
        self.ca_path = str(ca_file)

        self.whois = WhoisServer(self.scenario)
        await self.whois.start()
        self.rdap = RdapServer(self.scenario, whois_name=self.whois.address_of)
        await self.rdap.start()
        self.smtp = SmtpRelay(self._on_mail, self.world.now)
        await self.smtp.start(self._wanted_ports["smtp"])
        self.farm = Farm(self.world, self.ca, self.untrusted_ca)
        await self.farm.start(self._wanted_ports["http"], self._wanted_ports["https"])
        self._fill_dns()
        self.dns = DnsServer(self.dns_table)
        await self.dns.start(self._wanted_ports["dns"])
        self.bots = Bots(
            BotContext(
                scenario=self.scenario,
                world=self.world,
                take_down=self._take_down,
                inbound=lambda: self.inbound,
                record=self.bot_mail.append,
            )
        )
        self.world.started = time.monotonic()
        loop = asyncio.get_running_loop()
        for rt in self.world.sites.values():
            if rt.status == "absent" and rt.site.appears_at is not None:
                self._later(loop, rt.site.appears_at, self._appear, rt)
        self.world.log("started")

    async def _astop(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
        if hasattr(self, "bots"):
            await self.bots.stop()
        for name in ("dns", "farm", "rdap", "whois", "smtp"):
            server = getattr(self, name, None)
            if server is not None:
                try:
                    await server.stop()
                except Exception:
                    log.exception("sandbox: stopping %s failed", name)
        self.world.log("stopped")

    def _later(
        self, loop: asyncio.AbstractEventLoop, delay: float, fn: Callable[..., Any], *args: Any
    ) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            result = fn(*args)
            if asyncio.iscoroutine(result):
                task = loop.create_task(result)
                self._timers.add(task)
                task.add_done_callback(self._timers.discard)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    # --- DNS contents ---------------------------------------------------------

    def _fill_dns(self) -> None:
        table = self.dns_table
        for zone in self.scenario.zones:
            table.add_zone(zone, LOCALHOST)
            table.add_txt(zone, "v=spf1 -all")
        for rt in self.world.sites.values():
            site = rt.site
            if site.host_is_ip:
                continue
            table.add_address(site.host, site.ip)
            for alias in site.aliases:
                if self.scenario.zones and alias not in table.names:
                    table.add_cname(alias, site.host)
            if site.trap == "dns-rebind":
                table.set_rebind(site.host)
        mail_domains: dict[str, None] = {}
        for org in self.scenario.organizations:
            mail_domains[org.domain] = None
            mail_domains[org.abuse_email.split("@", 1)[1]] = None
        for reg in self.scenario.registrars:
            mail_domains[reg.domain] = None
        for csirt in self.scenario.csirts:
            mail_domains[csirt.domain] = None
        for report in self.scenario.reports:
            mail_domains[report.reporter.email.split("@", 1)[1]] = None
        for domain in mail_domains:
            table.add_mail_domain(domain, LOCALHOST)

    # --- world changes (loop thread) --------------------------------------------

    async def _take_down(self, site_id: str, style: str) -> None:
        rt = self.world.sites[site_id]
        if rt.status != "up":
            return
        rt.status, rt.style = "down", style
        rt.takedowns += 1
        rt.down_at = self.world.now()
        if style == "nxdomain":
            for host in (rt.site.host, *rt.site.aliases):
                if not rt.site.host_is_ip:
                    self.dns_table.set_nxdomain(host)
        elif style == "refused":
            await self.farm.refuse(rt.site.ip)
        self.world.log("takedown", site=site_id, style=style)
        if rt.site.revive_after is not None and rt.revivals == 0:
            assert self._loop is not None
            self._later(self._loop, rt.site.revive_after, self._revive, site_id)

    async def _revive(self, site_id: str) -> None:
        rt = self.world.sites[site_id]
        if rt.status == "up":
            return
        style = rt.style
        rt.status, rt.style = "up", None
        rt.revivals += 1
        if style == "nxdomain":
            for host in (rt.site.host, *rt.site.aliases):
                self.dns_table.clear_nxdomain(host)
        elif style == "refused":
            await self.farm.unrefuse(rt.site.ip)
        self.world.log("revived", site=site_id)

    def _appear(self, rt: SiteRuntime) -> None:
        if rt.status == "absent":
            rt.status = "up"
            self.world.log("appeared", site=rt.site.id)

    async def _on_mail(self, stored: StoredMessage) -> None:
        self.outbox.append(stored)
        reporters = self.scenario.reporter_addresses
        for rcpt in stored.rcpt_tos:
            if rcpt in reporters:
                self.reporter_mail.setdefault(rcpt, []).append(stored)
        parties: dict[str, tuple[Any, list[str]]] = {}
        for rcpt in stored.rcpt_tos:
            party = self.scenario.party_for_address(rcpt)
            if party is not None:
                parties.setdefault(party.key, (party, []))[1].append(rcpt)
        for key, (party, rcpts) in parties.items():
            named = self.bots.named_sites(party, stored)
            entry = {
                "at": stored.at,
                "sites": [rt.site.id for rt in named],
                "message_id": stored.message_id,
                "rcpts": rcpts,
            }
            if isinstance(party, ScenarioOrganization):
                self.notices.append({**entry, "org": key})
            else:
                self.escalations.append({**entry, "party": key})
        self.world.log("mail", rcpts=stored.rcpt_tos, subject=stored.subject[:200])
        self.bots.on_message(stored)

    # --- public, thread-safe controls -----------------------------------------------

    def take_down(self, site_id: str, style: str | None = None) -> None:
        """Take a site down now, in ``style`` or its organisation's style."""
        rt = self.world.sites[site_id]
        self.call(self._take_down(site_id, style or rt.org.behavior.takedown))

    def revive(self, site_id: str) -> None:
        self.call(self._revive(site_id))

    def hold_replies(self) -> None:
        """From now on the relay records each message but holds back its "250"."""
        self.call(_run(self.smtp.handler.replying.clear))

    def release_replies(self) -> None:
        """Answer the held messages and every later one at once again."""
        self.call(_run(self.smtp.handler.replying.set))

    @property
    def replies_held(self) -> int:
        """Messages recorded whose sender still waits for the relay's answer."""
        return self.smtp.handler.holding

    def set_answer(self, host: str, ips: list[str]) -> None:
        self.call(_run(lambda: self.dns_table.set_answer(host, ips)))

    def set_nxdomain(self, host: str) -> None:
        self.call(_run(lambda: self.dns_table.set_nxdomain(host)))

    def set_inbound(self, host: str, port: int) -> None:
        """Where the organisations' mail goes: the service's inbound SMTP listener."""
        self.inbound = (host, port)

    def site_status(self, site_id: str) -> str:
        return self.world.sites[site_id].status

    def site(self, site_id: str) -> SiteRuntime:
        return self.world.sites[site_id]

    def now(self) -> float:
        """Seconds since the sandbox started (the clock of ``events`` and messages)."""
        return self.world.now()

    def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05
    ) -> Any:
        """Poll ``predicate`` until it is truthy and return its value (``lib.waiting``)."""
        return wait_until(predicate, timeout=timeout, interval=interval, what="the sandbox")

    # --- read-only views ---------------------------------------------------------

    @property
    def pending(self) -> int:
        """Scenario events still to come: timers (revivals, appearances) and bot actions."""
        bots = getattr(self, "bots", None)
        return len(self._timers) + (len(bots._tasks) if bots is not None else 0)

    @property
    def events(self) -> list[Event]:
        return list(self.world.events)

    @property
    def dns_port(self) -> int:
        return self.dns.port

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    @property
    def http_port(self) -> int:
        return self.farm.http_port

    @property
    def https_port(self) -> int:
        return self.farm.https_port

    @property
    def whois_ports(self) -> dict[str, int]:
        return dict(self.whois.ports)

    @property
    def whois_server(self) -> tuple[str, int]:
        return (LOCALHOST, self.whois.ports["iana"])

    @property
    def rdap_bootstrap_url(self) -> str:
        return self.rdap.bootstrap_url

    def rdap_base(self, name: str) -> str:
        return self.rdap.base_url(name)

    @property
    def rdap_queries(self) -> Counter[str]:
        return self.rdap.queries

    @property
    def whois_queries(self) -> Counter[str]:
        return self.whois.queries

    @property
    def dns_queries(self) -> Counter[str]:
        return self.dns_table.queries

    @property
    def http_requests(self) -> Counter[str]:
        return self.farm.requests

    def env(self) -> dict[str, str]:
        """Environment variables that point a Takedown service at this sandbox."""
        extra = {}
        if self.scenario.cdn_asns:
            # The service recognises the scenario's CDNs by AS number, as it
            # does the well-known ones.
            extra["TAKEDOWN_CDN_ASNS"] = ",".join(
                f"{asn}={name.replace(',', ' ')}" for asn, name in self.scenario.cdn_asns.items()
            )
        return {
            **extra,
            "TAKEDOWN_SANDBOX": "1",
            "TAKEDOWN_DNS_RESOLVER": f"{LOCALHOST}:{self.dns_port}",
            "TAKEDOWN_RDAP_BOOTSTRAP_URL": self.rdap_bootstrap_url,
            "TAKEDOWN_WHOIS_SERVER": f"{LOCALHOST}:{self.whois.ports['iana']}",
            "TAKEDOWN_SMTP_URL": f"smtp://{LOCALHOST}:{self.smtp_port}",
            "TAKEDOWN_CA_BUNDLE": self.ca_path,
            "TAKEDOWN_ALLOW_LOOPBACK_TARGETS": "1",
            "TAKEDOWN_HTTP_PORT": str(self.http_port),
            "TAKEDOWN_HTTPS_PORT": str(self.https_port),
        }

    def url_for(self, site_id: str, scheme: str | None = None) -> str:
        """The site's URL with the farm's port made explicit, for clients without port mapping."""
        site = self.world.sites[site_id].site
        scheme = scheme or site.scheme
        port = self.http_port if scheme == "http" else self.https_port
        host = f"[{site.host}]" if ":" in site.host else site.host
        return f"{scheme}://{host}:{port}{site.path}"


async def _run(fn: Callable[[], T]) -> T:
    return fn()
