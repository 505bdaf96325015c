"""The locator: host names in, responsible parties out.  No database in here.

Steps for a batch of hosts (docs/locate.md has the whole picture):

1. DNS for every distinct host, concurrently (``resolve``).
2. For each host's first public address: the offline AS table (origin AS and
   announced prefix), then the registry's network record, from the cache or
   asked once per network however many hosts share it (``locate``):
   RDAP via the bootstrap, the linked abuse contacts it only links to, a
   ``related`` record, the ``up`` parent when the record is empty; JPNIC's WHOIS
   for JPNIC-managed blocks; WHOIS with referrals when RDAP fails or names no
   abuse address.
3. The registered domain's registrar (domain RDAP, registry -> registrar link,
   WHOIS fallback) and name servers; a CDN in front.

Registry answers are cached per network in :data:`NETWORK_CACHE` (this
process) and in the database (``Network`` rows, loaded by the caller between
``resolve`` and ``locate``), so 1,000 URLs on 30 networks cost about 30 queries.
Concurrent lookups that may hit the same network wait for each other (one
lock per announced prefix, or per /16 and /32 without an AS table).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from takedown.locate.addresses import address_refusal
from takedown.locate.asn import AsnMatch, AsnTable
from takedown.locate.bootstrap import Bootstrap, refreshed_bootstrap
from takedown.locate.cdn import CdnMatch, detect_cdn
from takedown.locate.classify import classify
from takedown.locate.clients import (
    Counters,
    RdapClient,
    RegistryUnavailable,
    WhoisClient,
    split_server,
)
from takedown.locate.rdap import RdapError, entity_emails, parse_rdap
from takedown.locate.records import RegistryRecord, cidr_containing, registry_of
from takedown.locate.resolver import DnsResult, clear_answers, make_resolver, resolve_host
from takedown.locate.whois import parse_whois

log = logging.getLogger(__name__)


@dataclass
class NetworkInfo:
    """What the registries say about the network holding an address."""

    cidrs: list[str]
    prefix: str
    registry: str | None = None
    handle: str | None = None
    name: str | None = None
    org_name: str | None = None
    org_local: str | None = None
    org_handle: str | None = None
    org_type: str | None = None
    country: str | None = None
    asn: int | None = None
    abuse: list[str] = field(default_factory=list)
    contacts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    db_id: int | None = None  # the Network row, once stored

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.cidrs[0]).version

    def as_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "org_name": self.org_name,
            "org_local": self.org_local,
            "org_handle": self.org_handle,
            "org_type": self.org_type,
            "prefix": self.prefix,
        }


@dataclass
class NetworkFailure:
    errors: list[str]


@dataclass
class DomainInfo:
    domain: str
    registrar_name: str | None = None
    registrar_abuse: list[str] = field(default_factory=list)
    registrar_iana_id: str | None = None
    nameservers: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    db_id: int | None = None

    @property
    def ok(self) -> bool:
        return bool(self.registrar_name or self.registrar_abuse or self.nameservers)


@dataclass
class HostResult:
    host: str
    dns: DnsResult
    outcome: str = "unresolvable"  # located | unresolvable
    reason: str = ""
    ip: str | None = None
    ips: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    asn: int | None = None
    bgp_prefix: str | None = None
    network: NetworkInfo | None = None
    domain: DomainInfo | None = None
    cdn: CdnMatch | None = None
    kind: str = "other"
    kind_reason: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str | None:
        if self.network and self.ip:
            return cidr_containing(self.network.cidrs, self.ip) or self.network.prefix
        return self.bgp_prefix

    @property
    def sources(self) -> list[str]:
        out: list[str] = []
        if self.dns.addresses and not _is_ip(self.host):
            out.append("dns")
        if self.bgp_prefix:
            out.append("asn-table")
        if self.network:
            out.extend(self.network.sources)
        if self.domain:
            out.extend(self.domain.sources)
        return list(dict.fromkeys(out))

    @property
    def abuse(self) -> list[str]:
        return list(self.network.abuse) if self.network else []


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class NetworkCache:
    """Network records by prefix, for this process, with an expiry per entry.

    Lookups mask the address for each prefix length present, longest first,
    like the AS table; a few microseconds.  Entries are kept per *context*
    (bootstrap URL and WHOIS server), so a sandbox run never sees another
    run's answers for the same loopback networks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._maps: dict[tuple[str, int, int], dict[int, tuple[float, NetworkInfo]]] = {}

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()

    def add(self, info: NetworkInfo, ttl: float, context: str) -> None:
        if ttl <= 0:
            return
        expires = time.time() + ttl
        with self._lock:
            for cidr in info.cidrs:
                net = ipaddress.ip_network(cidr, strict=False)
                key = (context, net.version, net.prefixlen)
                self._maps.setdefault(key, {})[int(net.network_address)] = (expires, info)

    def find(self, ip: str, context: str) -> NetworkInfo | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        value = int(addr)
        bits = addr.max_prefixlen
        now = time.time()
        with self._lock:
            keys = sorted(
                (k for k in self._maps if k[0] == context and k[1] == addr.version),
                key=lambda k: k[2],
                reverse=True,
            )
            for key in keys:
                plen = key[2]
                net = (value >> (bits - plen)) << (bits - plen) if plen else 0
                hit = self._maps[key].get(net)
                if hit is not None and hit[0] > now:
                    return hit[1]
        return None


NETWORK_CACHE = NetworkCache()
# Process-wide small caches: linked RDAP entities (ARIN POCs are shared by all
# of an organisation's networks) and IANA WHOIS referrals.
_ENTITY_CACHE: dict[str, tuple[float, list[str]]] = {}
_IANA_TLDS: dict[tuple[str, str], tuple[float, str]] = {}
_IANA_RANGES: list[tuple[str, int, int, int, float, str]] = []
_IANA_LOCK = threading.Lock()


def clear_caches() -> None:
    """Forget every in-process registry and DNS answer (tests; after changing registries)."""
    NETWORK_CACHE.clear()
    clear_answers()
    DOMAIN_CACHE.clear()
    _ENTITY_CACHE.clear()
    _IANA_TLDS.clear()
    with _IANA_LOCK:
        _IANA_RANGES.clear()


class DomainCache:
    """Registered domain -> DomainInfo for this process, per context, with expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], tuple[float, DomainInfo]] = {}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, domain: str, context: str) -> DomainInfo | None:
        with self._lock:
            hit = self._items.get((context, domain))
        return hit[1] if hit and hit[0] > time.time() else None

    def add(self, info: DomainInfo, ttl: float, context: str) -> None:
        if ttl > 0:
            with self._lock:
                self._items[(context, info.domain)] = (time.time() + ttl, info)


DOMAIN_CACHE = DomainCache()


def lookup_context() -> str:
    return f"{settings.RDAP_BOOTSTRAP_URL}|{settings.WHOIS_SERVER}"


def coalesce_key(ip: str, match: AsnMatch | None) -> str:
    """Lookups under one key run one at a time, so the second finds the first's answer."""
    if match is not None:
        return match.prefix
    addr = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{ip}/{16 if addr.version == 4 else 32}", strict=False))


class Locator:
    def __init__(
        self,
        *,
        asn_table: AsnTable | None = None,
        cache: NetworkCache | None = None,
        domains: dict[str, DomainInfo] | None = None,
        registrar: bool | None = None,
    ) -> None:
        self.asn_table = asn_table
        self.cache = cache if cache is not None else NETWORK_CACHE
        self.context = lookup_context()
        self.ttl = float(settings.REGISTRY_CACHE_TTL)
        self.domains: dict[str, DomainInfo] = dict(domains or {})
        self.registrar = settings.LOCATE_REGISTRAR if registrar is None else registrar
        self.counters = Counters()
        self.cache_hits = 0
        self.new_networks: list[NetworkInfo] = []
        self.new_domains: list[DomainInfo] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, NetworkFailure] = {}
        self._domain_locks: dict[str, asyncio.Lock] = {}
        self._bootstrap: Bootstrap | None = None
        self._rdap: RdapClient | None = None
        self._whois: WhoisClient | None = None

    # --- step 1: DNS ------------------------------------------------------------------

    async def resolve(self, hosts: list[str]) -> dict[str, DnsResult]:
        resolver = make_resolver()
        sem = asyncio.Semaphore(int(settings.LOCATE_CONCURRENCY))

        async def one(host: str) -> DnsResult:
            async with sem:
                return await resolve_host(resolver, host)

        distinct = list(dict.fromkeys(hosts))
        try:
            results = await asyncio.gather(*(one(h) for h in distinct))
        finally:
            resolver.close()
        return dict(zip(distinct, results, strict=True))

    # --- steps 2 and 3: registries -----------------------------------------------------

    def chosen_address(self, dns: DnsResult) -> tuple[str | None, list[tuple[str, str]]]:
        refused: list[tuple[str, str]] = []
        for addr in dns.addresses:
            why = address_refusal(addr)
            if why is None:
                return addr, refused
            refused.append((addr, why))
        return None, refused

    def preloaded(self, ip: str) -> bool:
        return self.cache.find(ip, self.context) is not None

    async def locate(
        self, dns_results: dict[str, DnsResult], domains: dict[str, str] | None = None
    ) -> dict[str, HostResult]:
        """``dns_results`` by host; ``domains`` maps a host to its registered domain."""
        domains = domains or {}
        async with RdapClient.new_session() as session:
            self._rdap = RdapClient(session, self.counters)
            self._whois = WhoisClient(self.counters)
            self._bootstrap = await refreshed_bootstrap(self._fetch_bootstrap)
            sem = asyncio.Semaphore(int(settings.LOCATE_CONCURRENCY))

            async def one(host: str, dns: DnsResult) -> HostResult:
                async with sem:
                    try:
                        return await self._host(host, dns, domains.get(host, ""))
                    except Exception as exc:
                        # One host's surprise must not sink the batch; it is
                        # recorded as unresolvable with the reason and retried.
                        log.exception("locating %s failed", host)
                        return HostResult(
                            host, dns, reason=f"internal error: {type(exc).__name__}: {exc}"
                        )

            items = list(dns_results.items())
            results = await asyncio.gather(*(one(h, d) for h, d in items))
        return dict(zip([h for h, _ in items], results, strict=True))

    async def _fetch_bootstrap(self, url: str) -> dict[str, Any]:
        assert self._rdap is not None
        return await self._rdap.get_json(url, kind="bootstrap")

    async def _host(self, host: str, dns: DnsResult, registered_domain: str) -> HostResult:
        res = HostResult(host, dns, ips=list(dns.addresses))
        if not dns.ok:
            res.reason = f"DNS: {dns.outcome}" + (f" ({dns.error})" if dns.error else "")
            return res
        ip, refused = self.chosen_address(dns)
        res.refused = refused
        if ip is None:
            what = ", ".join(why for _addr, why in refused[:3])
            res.reason = f"resolves only to addresses that are not public: {what}"
            return res
        res.ip = ip
        match = self.asn_table.lookup(ip) if self.asn_table is not None else None
        if match is not None:
            res.asn, res.bgp_prefix = match.asn, match.prefix
        domain_task = None
        if self.registrar and registered_domain and not _is_ip(host):
            domain_task = asyncio.ensure_future(self.domain_for(registered_domain))
        network = await self.network_for(ip, match)
        if domain_task is not None:
            res.domain = await domain_task
        if isinstance(network, NetworkFailure):
            res.errors.extend(network.errors)
            res.reason = "registry lookup failed: " + "; ".join(network.errors[-2:])
            return res
        res.network = network
        res.asn = res.asn or network.asn
        res.errors.extend(network.errors)
        res.cdn = detect_cdn(asn=res.asn, org_name=network.org_name, cnames=dns.cnames)
        res.kind, res.kind_reason = classify(
            name=network.org_name,
            name_local=network.org_local,
            country=network.country,
            asn=res.asn,
            emails=network.abuse + network.contacts,
            org_type=network.org_type,
        )
        res.outcome = "located"
        return res

    async def network_for(
        self, ip: str, match: AsnMatch | None = None
    ) -> NetworkInfo | NetworkFailure:
        hit = self.cache.find(ip, self.context)
        if hit is not None:
            self.cache_hits += 1
            return hit
        key = coalesce_key(ip, match)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self.cache.find(ip, self.context)
            if hit is not None:
                self.cache_hits += 1
                return hit
            failed = self._failures.get(key)
            if failed is not None:
                return failed
            result = await self._query_network(ip)
            if isinstance(result, NetworkFailure):
                # The same broken registry is not asked again in this batch.
                self._failures[key] = result
            else:
                self.cache.add(result, self.ttl, self.context)
                self.new_networks.append(result)
            return result

    async def _query_network(self, ip: str) -> NetworkInfo | NetworkFailure:
        sources: list[str] = []
        errors: list[str] = []
        rec: RegistryRecord | None = None
        rdap_base: str | None = None
        assert self._bootstrap is not None
        urls = self._bootstrap.for_ip(ip)
        if urls:
            rdap_base = urls[0]
            url = f"{rdap_base}ip/{ip}"
            try:
                rec = parse_rdap(await self._get(url, "rdap-ip"))
                sources.append(f"rdap:{url}")
                rec = await self._rdap_enrich(rec, ip, rdap_base, sources, errors)
            except (RegistryUnavailable, RdapError) as exc:
                errors.append(f"rdap: {exc}")
                rec = None
        else:
            errors.append("rdap: no RDAP service for this address in the bootstrap")
        if rec is not None and rec.ask_nir():
            rec = await self._nir(rec, ip, sources, errors)
        if rec is None or (not rec.abuse and rec.nir is None):
            wrec = await self._whois_ip(ip, sources, errors)
            if wrec is not None and wrec.ask_nir():
                wrec = await self._nir(wrec, ip, sources, errors)
            rec = _merge(rec, wrec)
        if rec is None or not (rec.org or rec.abuse):
            return NetworkFailure(errors or ["no registry answered with a holder"])
        cidrs = [c for c in rec.cidrs if cidr_containing([c], ip)]
        if not cidrs:
            # A record that does not contain the address (a registry bug or a
            # hostile answer) must not be cached for other addresses.
            errors.append(f"registry network {rec.prefix} does not contain {ip}")
            cidrs = [f"{ip}/{32 if ':' not in ip else 128}"]
        registry = rec.registry or registry_of(sources[0] if sources else "")
        return NetworkInfo(
            cidrs=rec.cidrs if rec.cidrs and cidrs[0] in rec.cidrs else cidrs,
            prefix=cidrs[0],
            registry=registry,
            handle=rec.network_handle,
            name=rec.name,
            org_name=rec.org,
            org_local=rec.org_local,
            org_handle=rec.handle,
            org_type=rec.org_type,
            country=rec.country,
            asn=rec.asn,
            abuse=rec.abuse,
            contacts=rec.contacts,
            sources=sources,
            errors=errors,
        )

    async def _get(self, url: str, kind: str) -> dict[str, Any]:
        assert self._rdap is not None
        return await self._rdap.get_json(url, kind=kind)

    async def _rdap_enrich(
        self,
        rec: RegistryRecord,
        ip: str,
        base: str,
        sources: list[str],
        errors: list[str],
    ) -> RegistryRecord:
        # A more specific record elsewhere (an NIR's RDAP server).
        for href in rec.related[:1]:
            try:
                related = parse_rdap(await self._get(href, "rdap-related"))
            except (RegistryUnavailable, RdapError) as exc:
                errors.append(f"rdap related: {exc}")
                continue
            if related.object_class == "ip network" and cidr_containing(related.cidrs, ip):
                sources.append(f"rdap:{href}")
                rec = _merge(related, rec) or rec
        # Abuse contacts given only as a link (ARIN's POCs, some RIPE roles).
        if rec.linked_abuse:
            found: list[str] = []
            for link in rec.linked_abuse[:3]:
                url = link if link.startswith("http") else f"{base}entity/{link}"
                emails = await self._entity(url, sources, errors)
                found.extend(e for e in emails if e not in found)
            if found:
                rec.abuse = found + [a for a in rec.abuse if a not in found]
        # A bare assignment (no holder, no abuse contact): the parent allocation
        # ("up") names who is responsible for it.
        if not rec.abuse and rec.up and rec.org_from in (None, "name"):
            try:
                parent = parse_rdap(await self._get(rec.up, "rdap-up"))
            except (RegistryUnavailable, RdapError) as exc:
                errors.append(f"rdap up: {exc}")
            else:
                sources.append(f"rdap:{rec.up}")
                if parent.org_from not in (None, "name") or not rec.org:
                    rec.org, rec.handle, rec.org_from = parent.org, parent.handle, parent.org_from
                rec.country = rec.country or parent.country
                rec.abuse = parent.abuse
                rec.contacts = rec.contacts or parent.contacts
                errors.append(f"holder and abuse contact taken from the parent network {rec.up}")
        return rec

    async def _entity(self, url: str, sources: list[str], errors: list[str]) -> list[str]:
        now = time.time()
        cached = _ENTITY_CACHE.get(f"{self.context}|{url}")
        if cached and cached[0] > now:
            return cached[1]
        try:
            emails = entity_emails(await self._get(url, "rdap-entity"))
        except (RegistryUnavailable, RdapError) as exc:
            errors.append(f"rdap entity: {exc}")
            return []
        sources.append(f"rdap:{url}")
        if self.ttl > 0:
            _ENTITY_CACHE[f"{self.context}|{url}"] = (now + self.ttl, emails)
        return emails

    async def _nir(
        self, rec: RegistryRecord, ip: str, sources: list[str], errors: list[str]
    ) -> RegistryRecord:
        """A block delegated to a national registry (JPNIC, KRNIC, TWNIC...): the
        holder and its abuse address are at that NIR, so it is asked.

        APNIC's copy attaches the NIR's own IRT or hostmaster as the abuse contact
        of every such block; the parsers set those addresses aside (never the
        holder's), and the NIR's answer supplies the holder's.
        """
        assert self._whois is not None
        asked = rec.ask_nir() or {}
        server = asked.get("server")
        if not server:
            errors.append(f"{rec.nir}: the block's details are there, and no WHOIS server is known")
            return rec
        try:
            answer = parse_whois(await self._whois.query(server, ip, kind="whois-nir"))
        except RegistryUnavailable as exc:
            errors.append(f"whois {server}: {exc}")
            return rec
        sources.append(f"whois:{server}")
        if not (answer.org or answer.abuse):
            errors.append(f"whois {server}: no network record")
            return rec
        contacts = list(answer.contacts)
        if not answer.abuse and answer.contact_handles:
            try:
                who = parse_whois(
                    await self._whois.query(server, answer.contact_handles[-1], kind="whois-nir")
                )
                contacts.extend(c for c in who.contacts if c not in contacts)
            except RegistryUnavailable as exc:
                errors.append(f"whois {server}: {exc}")
        own = [a for a in rec.abuse if a not in rec.irt_abuse]
        rec.abuse = list(dict.fromkeys(answer.abuse + own))
        rec.irt_abuse = []
        rec.contacts = list(dict.fromkeys(contacts + rec.contacts))
        rec.org = answer.org or rec.org
        rec.org_local = answer.org_local or rec.org_local
        rec.org_type = answer.org_type or rec.org_type
        rec.handle = answer.handle or rec.handle
        rec.country = answer.country or rec.country
        rec.registry = rec.nir
        rec.nir_answer = True
        if answer.cidrs and cidr_containing(answer.cidrs, ip):
            rec.cidrs, rec.prefix = answer.cidrs, answer.prefix
        return rec

    async def _whois_chain(
        self,
        query: str,
        kind: str,
        sources: list[str],
        errors: list[str],
        *,
        ip: str | None = None,
        tld: str | None = None,
    ) -> list[tuple[str, str]]:
        """Ask the entry server and follow referrals; [(server, text)], the last is deepest.

        IANA's referral (which registry holds a block or a TLD) is remembered for
        the block it names, so later queries go straight to the registry.
        """
        assert self._whois is not None
        known = _iana_known(self.context, ip=ip, tld=tld)
        server = known or WhoisClient.entry_server()
        visited: set[str] = set()
        answers: list[tuple[str, str]] = []
        for _hop in range(4):
            visited.add(server)
            first = not answers and not known
            try:
                text = await self._whois.query(
                    server, query, kind="whois-referral" if first else kind
                )
            except RegistryUnavailable as exc:
                errors.append(f"whois {server_label(server)}: {exc}")
                break
            answers.append((server, text))
            refer = _referral(text)
            if refer is None or refer in visited:
                break
            if _is_iana_answer(text) and self.ttl > 0:
                _iana_remember(self.context, text, refer, self.ttl, tld=tld)
            server = refer
        for server, text in answers:
            if not _is_iana_answer(text):
                sources.append(f"whois:{server_label(server)}")
        return answers

    async def _whois_ip(
        self, ip: str, sources: list[str], errors: list[str]
    ) -> RegistryRecord | None:
        answers = await self._whois_chain(ip, "whois-ip", sources, errors, ip=ip)
        best: RegistryRecord | None = None
        for server, text in answers:
            if _is_iana_answer(text):
                continue
            rec = parse_whois(text)
            if rec.org or rec.abuse:
                rec.registry = rec.registry or registry_of(server)
                best = rec if best is None else (_merge(rec, best) or best)
        if best is None and answers:
            errors.append("whois: no network record in the answer")
        return best

    # --- domains ----------------------------------------------------------------------

    async def domain_for(self, domain: str) -> DomainInfo:
        hit = self.domains.get(domain) or DOMAIN_CACHE.get(domain, self.context)
        if hit is not None:
            return hit
        lock = self._domain_locks.setdefault(domain, asyncio.Lock())
        async with lock:
            hit = self.domains.get(domain) or DOMAIN_CACHE.get(domain, self.context)
            if hit is not None:
                return hit
            info = await self._query_domain(domain)
            self.domains[domain] = info
            if info.ok:
                self.new_domains.append(info)
                DOMAIN_CACHE.add(info, self.ttl, self.context)
            return info

    async def _query_domain(self, domain: str) -> DomainInfo:
        info = DomainInfo(domain)
        assert self._bootstrap is not None
        urls = self._bootstrap.for_domain(domain)
        if urls:
            url = f"{urls[0]}domain/{domain}"
            try:
                rec = parse_rdap(await self._get(url, "rdap-domain"))
                info.sources.append(f"rdap:{url}")
                _domain_fill(info, rec)
                for href in rec.related[:1]:
                    try:
                        reg = parse_rdap(await self._get(href, "rdap-registrar"))
                    except (RegistryUnavailable, RdapError) as exc:
                        info.errors.append(f"rdap registrar: {exc}")
                        continue
                    info.sources.append(f"rdap:{href}")
                    _domain_fill(info, reg, prefer=True)
            except (RegistryUnavailable, RdapError) as exc:
                info.errors.append(f"rdap: {exc}")
        else:
            info.errors.append("rdap: no RDAP service for this TLD in the bootstrap")
        if not info.registrar_abuse:
            answers = await self._whois_chain(
                domain, "whois-domain", info.sources, info.errors, tld=domain.rsplit(".")[-1]
            )
            for _server, text in answers:
                if _is_iana_answer(text):
                    continue
                _domain_fill(info, parse_whois(text), prefer=True)
        return info


def _domain_fill(info: DomainInfo, rec: RegistryRecord, *, prefer: bool = False) -> None:
    reg = rec.registrar or {}
    if reg.get("name") and (prefer or not info.registrar_name):
        info.registrar_name = reg["name"]
    if reg.get("abuse") and (prefer or not info.registrar_abuse):
        info.registrar_abuse = list(reg["abuse"])
    if reg.get("iana_id") and not info.registrar_iana_id:
        info.registrar_iana_id = str(reg["iana_id"])
    if rec.nameservers and (prefer or not info.nameservers):
        info.nameservers = list(rec.nameservers)


def _merge(primary: RegistryRecord | None, other: RegistryRecord | None) -> RegistryRecord | None:
    """``primary`` with the gaps filled from ``other`` (abuse addresses appended)."""
    if primary is None:
        return other
    if other is None:
        return primary
    for name in ("org", "org_local", "org_type", "country", "handle", "network_handle", "name"):
        if not getattr(primary, name) and getattr(other, name):
            setattr(primary, name, getattr(other, name))
    if not primary.cidrs and other.cidrs:
        primary.cidrs, primary.prefix = other.cidrs, other.prefix
    if primary.asn is None:
        primary.asn = other.asn
    primary.registry = primary.registry or other.registry
    primary.abuse = list(dict.fromkeys(primary.abuse + other.abuse))
    primary.contacts = list(dict.fromkeys(primary.contacts + other.contacts))
    return primary


def _referral(text: str) -> str | None:
    from takedown.locate.whois import referral_server

    return referral_server(text)


def _is_iana_answer(text: str) -> bool:
    return bool(re.search(r"(?mi)^source:\s*IANA\s*$", text)) or "% IANA WHOIS server" in text


def _iana_known(context: str, *, ip: str | None, tld: str | None) -> str | None:
    now = time.time()
    if tld is not None:
        hit = _IANA_TLDS.get((context, tld.lower()))
        return hit[1] if hit and hit[0] > now else None
    if ip is None:
        return None
    value = int(ipaddress.ip_address(ip))
    for ctx, version, low, high, expires, server in _IANA_RANGES:
        same = ctx == context and version == ipaddress.ip_address(ip).version
        if same and low <= value <= high and expires > now:
            return server
    return None


def _iana_remember(context: str, text: str, refer: str, ttl: float, *, tld: str | None) -> None:
    expires = time.time() + ttl
    if tld is not None:
        _IANA_TLDS[(context, tld.lower())] = (expires, refer)
        return
    m = re.search(r"(?mi)^inet6?num:\s*(\S+)(?:\s*-\s*(\S+))?", text)
    if not m:
        return
    try:
        if m.group(2):
            low, high = ipaddress.ip_address(m.group(1)), ipaddress.ip_address(m.group(2))
        else:
            net = ipaddress.ip_network(m.group(1), strict=False)
            low, high = net.network_address, net.broadcast_address
    except ValueError:
        return
    with _IANA_LOCK:
        _IANA_RANGES.append((context, low.version, int(low), int(high), expires, refer))
        del _IANA_RANGES[:-1000]


def server_label(server: str) -> str:
    host, port = split_server(server)
    return host if port == 43 else f"{host}:{port}"
