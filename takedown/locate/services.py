"""The write path of the locate step: the directory, the cache tables, the sites.

- ``locate_hosts``: run the locator for some hosts, with the database cache
  loaded between its DNS and registry phases (no database access happens
  inside the event loop).
- ``sites_locate``: locate sites and record the outcome: ``Resolution`` and
  ``Location`` rows, the site's ``ip`` and ``organization``, the state change
  with its sources on the timeline (``locate.done`` / ``locate.failed``) and,
  for failures, the next retry (a ``Work`` row due later, written in the same
  transaction).  Entering ``located`` makes the first check due by itself
  (``cases.models.STEP_ON_ENTRY``).
- ``organization_from_registry`` / ``organization_edit`` /
  ``organization_reset``: the directory, where a handler's edit wins.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from takedown.cases.models import Event, EventKind, Site, SiteState, Step
from takedown.cases.services import event_record, site_try_transition
from takedown.cases.work import work_schedule
from takedown.lib.failpoints import failpoint
from takedown.locate.asn import AsnTableError, asn_table
from takedown.locate.classify import classify
from takedown.locate.engine import DomainInfo, HostResult, Locator, NetworkInfo
from takedown.locate.models import (
    EDITABLE_FIELDS,
    DomainRecord,
    Location,
    Network,
    Organization,
    OrgKind,
    OrgRole,
    Resolution,
)
from takedown.locate.records import EMAIL_RE

log = logging.getLogger(__name__)

RAW_EVENT_LIMIT = 20
PRELOAD_LIMIT = 20_000


class OrganizationEditError(ValueError):
    pass


# --- running the locator -----------------------------------------------------------------


@dataclass
class LocateRun:
    results: dict[str, HostResult]
    locator: Locator
    queries: dict[str, int] = field(default_factory=dict)


def locate_hosts(hosts: dict[str, str], *, locator: Locator | None = None) -> LocateRun:
    """Locate ``hosts`` (host -> registered domain); nothing is written yet."""
    if locator is None:
        try:
            table = asn_table()
        except AsnTableError as exc:
            log.warning("ASN table not used: %s", exc)
            table = None
        locator = Locator(asn_table=table)
    dns = asyncio.run(locator.resolve(list(hosts)))
    ips = []
    for result in dns.values():
        ip, _refused = locator.chosen_address(result)
        if ip:
            ips.append(ip)
    _preload_networks(locator, ips)
    _preload_domains(locator, {d for d in hosts.values() if d})
    results = asyncio.run(locator.locate(dns, hosts))
    return LocateRun(results, locator, dict(locator.counters.counts))


def _preload_networks(locator: Locator, ips: list[str]) -> None:
    """Put the cached ``Network`` rows covering ``ips`` in the locator's memory cache.

    One query per /8 (IPv4) or /32 (IPv6) block the addresses fall in, not one
    per address: a batch of 500 sites costs a handful of queries.
    """
    now = timezone.now()
    blocks: dict[tuple[int, str, str], None] = {}
    for ip in ips:
        if locator.preloaded(ip):
            continue
        addr = ipaddress.ip_address(ip)
        plen = 8 if addr.version == 4 else 32
        block = ipaddress.ip_network(f"{ip}/{plen}", strict=False)
        width = 8 if addr.version == 4 else 32
        blocks[
            (
                addr.version,
                f"{int(block.network_address):0{width}x}",
                f"{int(block.broadcast_address):0{width}x}",
            )
        ] = None
    rows: list[Network] = []
    for version, low, high in blocks:
        rows.extend(
            Network.objects.filter(
                version=version, start__lte=high, end__gte=low, expires__gt=now
            ).order_by("-fetched")[:PRELOAD_LIMIT]
        )
    # Wider networks first, so a more specific one added later wins in the cache.
    rows.sort(key=lambda r: int(r.end, 16) - int(r.start, 16), reverse=True)
    for row in rows:
        if row.data.get("context") != locator.context:
            continue
        locator.cache.add(network_info(row), (row.expires - now).total_seconds(), locator.context)


def network_info(row: Network) -> NetworkInfo:
    data = row.data or {}
    return NetworkInfo(
        cidrs=list(row.cidrs),
        prefix=row.prefix,
        registry=row.registry or None,
        handle=row.handle or None,
        name=row.name or None,
        org_name=data.get("org_name"),
        org_local=data.get("org_local"),
        org_handle=data.get("org_handle"),
        org_type=data.get("org_type"),
        country=row.country or None,
        asn=row.asn,
        abuse=list(row.abuse_emails),
        contacts=list(row.contact_emails),
        sources=list(row.sources),
        errors=list(row.errors),
        db_id=row.pk,
    )


def _preload_domains(locator: Locator, domains: set[str]) -> None:
    if not domains:
        return
    now = timezone.now()
    for rec in DomainRecord.objects.filter(domain__in=list(domains), expires__gt=now):
        locator.domains[rec.domain] = DomainInfo(
            domain=rec.domain,
            registrar_name=rec.registrar_name or None,
            registrar_abuse=list(rec.registrar_abuse),
            nameservers=list(rec.nameservers),
            sources=list(rec.sources),
            errors=list(rec.errors),
            db_id=rec.pk,
        )


# --- the directory -------------------------------------------------------------------------


def _language(country: str | None) -> str:
    return "ja" if (country or "").upper() == "JP" else "en"


def organization_from_registry(info: NetworkInfo) -> Organization:
    """The network holder's directory entry, created or refreshed from registry data.

    Fields a handler has set (``overrides``) are left as the handler set them;
    the registry's values are kept in ``registry_data`` beside them.
    """
    registry = (info.registry or "")[:16]
    handle = (info.org_handle or "")[:100]
    name = (info.org_name or info.name or info.prefix)[:300]
    qs = Organization.objects.filter(role=OrgRole.NETWORK)
    org = (
        qs.filter(registry=registry, handle=handle).order_by("pk").first()
        if handle
        else qs.filter(registry=registry, handle="", name=name).order_by("pk").first()
    )
    values: dict[str, Any] = {
        "name": name,
        "name_local": (info.org_local or "")[:300],
        "country": (info.country or "")[:2].upper(),
        "asn": info.asn,
        "abuse_emails": list(info.abuse),
        "contact_emails": list(info.contacts),
        "language": _language(info.country),
        "source": (info.sources[0] if info.sources else "")[:500],
    }
    if org is None:
        org = Organization(role=OrgRole.NETWORK, registry=registry, handle=handle)
    _apply_registry(org, values, info)
    org.save()
    return org


def _apply_registry(org: Organization, values: dict[str, Any], info: NetworkInfo) -> None:
    for name, value in values.items():
        if name in EDITABLE_FIELDS and org.is_overridden(name):
            continue
        setattr(org, name, value)
    kind, reason = classify(
        name=org.name,
        name_local=org.name_local,
        country=org.country or None,
        asn=org.asn,
        emails=list(values["abuse_emails"]) + list(values["contact_emails"]),
        org_type=info.org_type,
    )
    values["kind"] = kind
    if not org.is_overridden("kind"):
        org.kind, org.kind_reason = kind, reason
    org.registry_data = {**values, "kind_reason": reason}
    org.updated = timezone.now()


def organization_edit(
    org: Organization, *, actor: str, changes: dict[str, Any], note: str = ""
) -> Event | None:
    """A handler's correction: applied, pinned against registry updates, on the timeline."""
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in EDITABLE_FIELDS:
            raise OrganizationEditError(_("%(field)s cannot be edited") % {"field": name})
        clean[name] = _clean_field(name, value)
    diff = {
        name: {"from": getattr(org, name), "to": value}
        for name, value in clean.items()
        if getattr(org, name) != value or not org.is_overridden(name)
    }
    if not diff:
        return None
    with transaction.atomic():
        for name, value in clean.items():
            setattr(org, name, value)
            org.overrides = {**(org.overrides or {}), name: value}
        if "kind" in clean:
            org.kind_reason = f"set by {actor}"[:200]
        org.updated = timezone.now()
        org.save()
        return event_record(
            kind=EventKind.ORGANIZATION_EDITED,
            organization=org,
            actor=actor,
            message=note[:2000],
            data={"changes": diff},
        )


def organization_reset(org: Organization, *, actor: str, fields: list[str]) -> Event | None:
    """Drop a handler's overrides: the registry's values apply again."""
    dropped = [f for f in fields if org.is_overridden(f)]
    if not dropped:
        return None
    with transaction.atomic():
        overrides = dict(org.overrides)
        for name in dropped:
            overrides.pop(name, None)
            if name in org.registry_data:
                setattr(org, name, org.registry_data[name])
            if name == "kind":
                org.kind_reason = str(org.registry_data.get("kind_reason", ""))[:200]
        org.overrides = overrides
        org.updated = timezone.now()
        org.save()
        return event_record(
            kind=EventKind.ORGANIZATION_RESET,
            organization=org,
            actor=actor,
            data={"fields": dropped},
        )


def _clean_field(name: str, value: Any) -> Any:
    if name == "kind":
        if value not in OrgKind.values:
            raise OrganizationEditError(
                _("kind must be one of %(kinds)s") % {"kinds": ", ".join(OrgKind.values)}
            )
        return value
    if name == "language":
        if value not in {code for code, _ in settings.LANGUAGES}:
            raise OrganizationEditError(_("unsupported language"))
        return value
    if name == "country":
        value = str(value or "").strip().upper()
        if value and not re.fullmatch(r"[A-Z]{2}", value):
            raise OrganizationEditError(_("country must be a 2-letter ISO code"))
        return value
    if name == "name":
        value = str(value or "").strip()
        if not value:
            raise OrganizationEditError(_("the name cannot be empty"))
        return value[:300]
    if name == "abuse_emails":
        items = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value or ""))
        out = []
        for item in items:
            item = str(item).strip().lower()
            if not item:
                continue
            if not EMAIL_RE.fullmatch(item):
                raise OrganizationEditError(
                    _("%(address)r is not an e-mail address") % {"address": item}
                )
            if item not in out:
                out.append(item)
        return out
    return value  # pragma: no cover - EDITABLE_FIELDS is checked first


def _registrar_org(info: DomainInfo) -> Organization | None:
    if not info.registrar_name:
        return None
    name = info.registrar_name[:300]
    handle = (info.registrar_iana_id or "")[:100]
    qs = Organization.objects.filter(role=OrgRole.REGISTRAR)
    org = (qs.filter(handle=handle) if handle else qs.filter(name=name)).order_by("pk").first()
    if org is None:
        org = Organization(role=OrgRole.REGISTRAR, handle=handle, registry="iana" if handle else "")
    values = {"name": name, "abuse_emails": list(info.registrar_abuse)}
    for key, value in values.items():
        if not org.is_overridden(key):
            setattr(org, key, value)
    org.registry_data = values
    org.kind = org.kind if org.is_overridden("kind") else OrgKind.OTHER
    org.updated = timezone.now()
    org.save()
    return org


def _cdn_org(name: str) -> Organization:
    org = Organization.objects.filter(role=OrgRole.CDN, name=name).order_by("pk").first()
    if org is None:
        org = Organization.objects.create(role=OrgRole.CDN, name=name[:300])
    return org


# --- recording results -----------------------------------------------------------------


class _Recorder:
    """Stores a run's networks, domains and organisations once each."""

    def __init__(self, run: LocateRun) -> None:
        self.run = run
        self.context = run.locator.context
        self.ttl = timedelta(seconds=int(settings.REGISTRY_CACHE_TTL))
        self.networks: dict[int, Network] = {}
        self.domains: dict[str, DomainRecord] = {}
        self.cdns: dict[str, Organization] = {}
        self.registrars: dict[
            tuple[str | None, str | None, tuple[str, ...]], Organization | None
        ] = {}
        self._cached_networks: dict[int, Network] | None = None

    @property
    def cached_networks(self) -> dict[int, Network]:
        """The stored networks the run's cached answers name, in one query.

        Read on first use, inside the caller's transaction: on SQLite no other
        writer can then delete one (a refresh) before the Locations naming it
        are committed.
        """
        if self._cached_networks is None:
            ids = {
                res.network.db_id
                for res in self.run.results.values()
                if res.network is not None and res.network.db_id is not None
            }
            self._cached_networks = (
                Network.objects.select_related("organization").in_bulk(ids) if ids else {}
            )
        return self._cached_networks

    def network(self, info: NetworkInfo) -> Network:
        key = id(info)
        if key in self.networks:
            return self.networks[key]
        row = None
        if info.db_id is not None:
            cached = self.cached_networks.get(info.db_id)
            # The id may be stale: written into the process's cache by a batch
            # that then rolled back (on SQLite the next row stored takes the
            # same id), or of a row since refreshed away.  Only this network's
            # own row will do.
            if cached is not None and _network_span(cached) == _info_span(info, self.context):
                row = cached
        if row is None:
            row = self._store_network(info)
        elif row.organization is None:
            row.organization = organization_from_registry(info)
            row.save(update_fields=["organization"])
        self.networks[key] = row
        return row

    def _store_network(self, info: NetworkInfo) -> Network:
        version, start, end, _context = _info_span(info, self.context)
        org = organization_from_registry(info)
        now = timezone.now()
        # One row per network and context: a refreshed answer replaces the old one.
        Network.objects.filter(
            version=version, start=start, end=end, data__context=self.context
        ).delete()
        for pk, cached in list(self.cached_networks.items()):
            if _network_span(cached) == (version, start, end, self.context):
                del self.cached_networks[pk]
        row = Network.objects.create(
            version=version,
            start=start,
            end=end,
            prefix=info.prefix[:100],
            cidrs=info.cidrs,
            registry=(info.registry or "")[:16],
            handle=(info.handle or "")[:100],
            name=(info.name or "")[:200],
            country=(info.country or "")[:2],
            asn=info.asn,
            organization=org,
            abuse_emails=info.abuse,
            contact_emails=info.contacts,
            sources=info.sources,
            errors=info.errors,
            data={**info.as_data(), "context": self.context},
            fetched=now,
            expires=now + self.ttl,
        )
        info.db_id = row.pk
        return row

    def cdn(self, name: str) -> Organization:
        if name not in self.cdns:
            self.cdns[name] = _cdn_org(name)
        return self.cdns[name]

    def domain(self, info: DomainInfo) -> DomainRecord | None:
        if not info.ok:
            return None
        if info.domain in self.domains:
            return self.domains[info.domain]
        if info.db_id is not None:
            # Came from the cache: rewriting it would restamp ``expires`` and
            # keep a registrar answer alive for as long as the domain is used.
            cached = DomainRecord.objects.select_related("registrar").filter(pk=info.db_id).first()
            # A stale id (a rolled-back batch's) may name another domain's record.
            if cached is not None and cached.domain == info.domain[:255]:
                self.domains[info.domain] = cached
                return cached
        now = timezone.now()
        # Many domains share a registrar: look it up and refresh it once per run.
        key = (info.registrar_iana_id, info.registrar_name, tuple(info.registrar_abuse))
        if key not in self.registrars:
            self.registrars[key] = _registrar_org(info)
        registrar = self.registrars[key]
        row, _created = DomainRecord.objects.update_or_create(
            domain=info.domain[:255],
            defaults={
                "registrar": registrar,
                "registrar_name": (info.registrar_name or "")[:300],
                "registrar_abuse": info.registrar_abuse,
                "nameservers": info.nameservers,
                "sources": info.sources,
                "errors": info.errors,
                "fetched": now,
                "expires": now + self.ttl,
            },
        )
        info.db_id = row.pk
        self.domains[info.domain] = row
        return row


def _same_version(cidr: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return ipaddress.ip_network(cidr).version == net.version


def _info_span(info: NetworkInfo, context: str) -> tuple[int, str, str, str]:
    """(version, first address, last address, context) as a Network row stores them."""
    net = ipaddress.ip_network(info.prefix if "/" in info.prefix else info.cidrs[0])
    first = min(ipaddress.ip_network(c) for c in info.cidrs if _same_version(c, net))
    last = max(ipaddress.ip_network(c) for c in info.cidrs if _same_version(c, net))
    width = 8 if net.version == 4 else 32
    start = f"{int(first.network_address):0{width}x}"
    end = f"{int(last.broadcast_address):0{width}x}"
    return net.version, start, end, context


def _network_span(row: Network) -> tuple[int, str, str, str]:
    return row.version, row.start, row.end, str((row.data or {}).get("context", ""))


def location_json(
    url: str, res: HostResult, org: Organization | None, registrar: Organization | None
) -> dict[str, Any]:
    """The JSON of ``takedown locate --json`` (CONTRACT.md keys first, never renamed)."""
    net = res.network
    abuse = effective_abuse(org, net)
    out: dict[str, Any] = {
        "url": url,
        "host": res.host,
        "ips": list(res.ips),
        "asn": res.asn,
        "prefix": res.prefix,
        "registry": net.registry if net else None,
        "org": None,
        "abuse": abuse,
        "registrar": None,
        "sources": res.sources,
    }
    if org is not None:
        out["org"] = {
            "name": org.name,
            "kind": org.kind,
            "country": org.country or None,
            "domestic": org.domestic,
            "handle": org.handle or None,
            "name_local": org.name_local or None,
            "kind_reason": org.kind_reason,
            "language": org.language,
            "id": org.pk,
        }
    elif net is not None:
        out["org"] = {
            "name": net.org_name,
            "kind": res.kind,
            "country": net.country,
            "domestic": (net.country or "").upper() == settings.HOME_COUNTRY
            if net.country
            else None,
            "handle": net.org_handle,
            "name_local": net.org_local,
            "kind_reason": res.kind_reason,
        }
    if res.domain is not None and res.domain.ok:
        out["registrar"] = {
            "name": registrar.name if registrar else res.domain.registrar_name,
            "abuse": list(registrar.abuse_emails if registrar else res.domain.registrar_abuse),
        }
    out.update(
        {
            "outcome": res.outcome,
            "reason": res.reason or None,
            "ip": res.ip,
            "dns": {
                "outcome": res.dns.outcome,
                "cnames": res.dns.cnames,
                "error": res.dns.error or None,
                # When the answer was had and how long it held (a host asked
                # again within its TTL is answered from the cache).
                "at": _iso(_answer_at(res)),
                "ttl": res.dns.ttl or None,
            },
            "refused_addresses": [{"ip": a, "reason": why} for a, why in res.refused],
            "abuse_fallback": bool(not (org.abuse_emails if org else net and net.abuse))
            and bool(abuse),
            "nameservers": list(res.domain.nameservers) if res.domain else [],
            "cdn": {"name": res.cdn.name, "by": res.cdn.by, "evidence": res.cdn.evidence}
            if res.cdn
            else None,
            "bgp_prefix": res.bgp_prefix,
            "errors": list(dict.fromkeys(res.errors + (res.domain.errors if res.domain else []))),
        }
    )
    return out


def _answer_at(res: HostResult) -> datetime | None:
    """When DNS gave the host's answer (None for an IP literal or no answer)."""
    return datetime.fromtimestamp(res.dns.at, UTC) if res.dns.at else None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def effective_abuse(org: Organization | None, net: NetworkInfo | None) -> list[str]:
    """Where a notice goes: the handler's addresses, the network's own, the holder's,
    or, when the registry names no abuse address, its published contacts."""
    if org is not None and org.is_overridden("abuse_emails"):
        return list(org.abuse_emails)
    if net is not None and net.abuse:
        return list(net.abuse)
    if org is not None and org.abuse_emails:
        return list(org.abuse_emails)
    if net is not None and net.contacts:
        return list(net.contacts)
    return list(org.contact_emails) if org is not None else []


def record_run(run: LocateRun) -> dict[str, tuple[Organization | None, Organization | None]]:
    """Store the run's networks, domains and organisations; (holder, registrar) per host."""
    rec = _Recorder(run)
    out: dict[str, tuple[Organization | None, Organization | None]] = {}
    with transaction.atomic():
        for host, res in run.results.items():
            org = registrar = None
            if res.network is not None:
                org = rec.network(res.network).organization
            if res.domain is not None:
                row = rec.domain(res.domain)
                registrar = row.registrar if row else None
            out[host] = (org, registrar)
    return out


def sites_locate(site_ids: list[int]) -> dict[str, list[int]]:
    """Locate these sites; returns {"located": [...], "unresolvable": [...], "skipped": [...]}."""
    sites = list(
        Site.objects.filter(
            pk__in=site_ids,
            historical=False,
            state__in=[SiteState.REPORTED, SiteState.UNRESOLVABLE],
        )
    )
    summary: dict[str, list[int]] = {"located": [], "unresolvable": [], "skipped": []}
    summary["skipped"] = sorted(set(site_ids) - {s.pk for s in sites})
    if not sites:
        return summary
    run = locate_hosts({s.host: s.registered_domain for s in sites})
    failpoint("locate.answers")
    rec = _Recorder(run)
    now = timezone.now()
    retry_groups: dict[int, list[int]] = defaultdict(list)
    attempts = dict(
        Event.objects.filter(site__in=sites, kind=EventKind.LOCATE_FAILED)
        .values_list("site")
        .annotate(n=Count("id"))
        .values_list("site", "n")
    )
    with transaction.atomic():
        # First the rows every site gets, written in bulk; then the state
        # changes, one transition (and timeline event) per site.
        prepared = []
        for site in sites:
            res = run.results[site.host]
            network = rec.network(res.network) if res.network is not None else None
            org = network.organization if network is not None else None
            domain = rec.domain(res.domain) if res.domain is not None else None
            registrar = domain.registrar if domain is not None else None
            cdn = None
            if res.cdn is not None:
                cdn = org if res.cdn.by in ("asn", "name") else rec.cdn(res.cdn.name)
            data = location_json(site.url, res, org, registrar)
            location = Location(
                site=site,
                at=now,
                outcome=res.outcome,
                reason=res.reason[:300],
                host=site.host,
                ip=res.ip,
                ips=res.ips,
                asn=res.asn,
                prefix=(res.prefix or "")[:100],
                registry=(data.get("registry") or "")[:16],
                network=network,
                organization=org,
                registrar=registrar,
                cdn=cdn,
                abuse=data["abuse"],
                sources=data["sources"],
                errors=data["errors"],
                data=data,
            )
            prepared.append((site, res, org, data, location))
        Resolution.objects.bulk_create(
            [
                Resolution(
                    host=site.host,
                    # When DNS gave this answer: a cached one keeps its own time.
                    at=_answer_at(res) or now,
                    outcome=res.dns.outcome,
                    addresses=res.dns.addresses,
                    cnames=res.dns.cnames,
                    error=res.dns.error[:300],
                    site=site,
                )
                for site, res, _org, _data, _loc in prepared
            ],
            batch_size=500,
        )
        Location.objects.bulk_create([p[4] for p in prepared], batch_size=500)
        for site, res, org, data, location in prepared:
            event_data = {
                "location": location.pk,
                **{k: data[k] for k in ("ip", "ips", "asn", "prefix", "registry", "abuse")},
                "org": data["org"],
                "registrar": data["registrar"],
                "cdn": data["cdn"],
                "sources": data["sources"],
                "errors": data["errors"][:RAW_EVENT_LIMIT],
            }
            if res.outcome == "located" and org is not None:
                site.ip = res.ip
                site.organization = org
                message = f"{org.name} ({org.kind}, {org.country or '?'})"
                if data["abuse"]:
                    message += ": " + ", ".join(data["abuse"][:3])
                if site_try_transition(
                    site,
                    SiteState.LOCATED,
                    kind=EventKind.LOCATE_DONE,
                    message=message,
                    data=event_data,
                    organization=org,
                    at=now,
                    update_fields=["ip", "organization"],
                ):
                    summary["located"].append(site.pk)
                continue
            attempt = attempts.get(site.pk, 0) + 1
            delays = list(settings.LOCATE_RETRY_DELAYS)
            retry_in = delays[attempt - 1] if attempt <= len(delays) else None
            event_data.update(
                {
                    "outcome": res.dns.outcome if not res.dns.ok else res.outcome,
                    "attempt": attempt,
                    "retry_at": (now + timedelta(seconds=retry_in)).isoformat()
                    if retry_in
                    else None,
                }
            )
            reason = res.reason or "not located"
            if retry_in is None:
                reason += " (no further automatic retries)"
            if res.ip:
                site.ip = res.ip
            if site.state == SiteState.REPORTED:
                site_try_transition(
                    site,
                    SiteState.UNRESOLVABLE,
                    kind=EventKind.LOCATE_FAILED,
                    message=reason,
                    data=event_data,
                    at=now,
                    update_fields=["ip"],
                )
            else:
                event_record(
                    kind=EventKind.LOCATE_FAILED, site=site, message=reason, data=event_data, at=now
                )
            summary["unresolvable"].append(site.pk)
            if retry_in is not None:
                retry_groups[retry_in].append(site.pk)
        for delay, ids in retry_groups.items():
            work_schedule(step=Step.LOCATE, ids=ids, due=now + timedelta(seconds=delay))
    return summary
