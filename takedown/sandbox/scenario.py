"""Scenario files: load the YAML, check it, and hand back typed, frozen objects.

The format is in ``docs/sandbox.md`` (and the short form in CONTRACT.md). Every
problem is reported as one :class:`ScenarioError` naming the field by its path,
e.g. ``organizations[2].behavior.reply: must be one of always, ...``, so a person
editing a scenario by hand can fix it without reading this module.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REGISTRIES = ("arin", "ripe", "apnic", "jpnic", "lacnic", "afrinic")
ORG_KINDS = ("isp", "company", "school", "overseas", "other")
REPLY_MODES = ("always", "sometimes", "rarely", "never")
TAKEDOWN_STYLES = ("404", "410", "nxdomain", "refused", "suspended")
# A registrar suspends the domain: its names stop resolving, or point at the
# registrar's "suspended" page.
REGISTRAR_TAKEDOWN_STYLES = ("nxdomain", "suspended")
# A CSIRT gets the hoster to act ("hoster": in the organisation's own style).
CSIRT_TAKEDOWN_STYLES = ("hoster", *TAKEDOWN_STYLES)
SITE_KINDS = ("phishing", "malware")
TRAPS = (
    "slow",
    "huge",
    "redirect-loop",
    "gzip-bomb",
    "bad-tls",
    "redirect-to-private",
    "dns-rebind",
    "hostile-headers",
    "trickle",
)
CHANNELS = ("email", "api", "form", "cli")
REPORTER_TYPES = ("csirt", "security_vendor", "financial", "ecommerce", "other")

# The built-in registrar every site domain belongs to unless the scenario says otherwise.
DEFAULT_REGISTRAR_ID = "example-registrar"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s]+@([A-Za-z0-9-]+\.)+[A-Za-z0-9-]+$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{1,63}$")
_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.ip_network("::1/128")
# Second-level labels under which registrations sit one level deeper (co.jp, com.br...).
_SECOND_LEVEL = {"co", "ne", "or", "ac", "go", "ad", "ed", "gr", "lg", "com", "net", "org", "edu"}


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message names the offending field."""


@dataclass(frozen=True)
class Behavior:
    reply: str = "never"
    reply_after: float = 0.0
    takedown_after: float | None = None
    takedown: str = "404"
    # True: the abuse address bounces; "all": every published address does.
    bounce: bool | str = False
    # The address the DSN names instead of the abuse address (an MTA that
    # reports the mailbox an alias expanded to); empty: the abuse address.
    bounce_names: str = ""
    auto_reply: bool = False


# A registrar, CDN or CSIRT that says nothing acts: it replies and takes the
# sites down (a registrar by suspending the domain) soon after the message.
REGISTRAR_BEHAVIOR = Behavior(
    reply="always", reply_after=1.0, takedown_after=2.0, takedown="nxdomain"
)
CSIRT_BEHAVIOR = Behavior(reply="always", reply_after=1.0, takedown_after=3.0, takedown="hoster")


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    country: str
    kind: str
    registry: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    asn: int
    abuse_email: str
    domain: str
    rdap: bool = True
    whois: bool = True
    name_ja: str = ""
    rate_limit: int | None = None
    behavior: Behavior = field(default_factory=Behavior)
    # A CDN: the service recognises its AS number as one (TAKEDOWN_CDN_ASNS).
    cdn: bool = False

    @property
    def key(self) -> str:
        """Who this is among the parties that receive mail (organisations, registrars, CSIRTs)."""
        return self.id

    @property
    def handle(self) -> str:
        """A registry handle in the style of the organisation's registry."""
        base = re.sub(r"[^A-Z0-9]", "", self.id.upper())[:12] or "ORG"
        return {
            "arin": f"{base}-ARIN",
            "ripe": f"ORG-{base}-RIPE",
            "apnic": f"{base}-AP",
            "jpnic": f"{base}-JP",
            "lacnic": f"{self.country}-{base}-LACNIC",
            "afrinic": f"ORG-{base}-AFRINIC",
        }[self.registry]

    @property
    def noc_email(self) -> str:
        return f"noc@{self.domain}"

    @property
    def hostmaster_email(self) -> str:
        return f"hostmaster@{self.domain}"

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address the organisation's registry records publish."""
        seen: dict[str, None] = {}
        for addr in (self.abuse_email, self.noc_email, self.hostmaster_email):
            seen[addr.lower()] = None
        return tuple(seen)

    @property
    def language(self) -> str:
        return "ja" if self.country == "JP" else "en"

    def contains(self, ip: str) -> int:
        """Prefix length of the most specific network holding ``ip``; -1 when none does."""
        addr = ipaddress.ip_address(ip)
        best = -1
        for net in self.networks:
            if addr.version == net.version and addr in net:
                best = max(best, net.prefixlen)
        return best


@dataclass(frozen=True)
class Registrar:
    id: str
    name: str
    abuse_email: str
    rdap: bool = True
    whois: bool = True
    iana_id: int = 9999
    url: str = ""
    behavior: Behavior = REGISTRAR_BEHAVIOR
    name_ja: str = ""
    language: str = "en"

    @property
    def key(self) -> str:
        return f"registrar:{self.id}"

    @property
    def domain(self) -> str:
        return self.abuse_email.split("@", 1)[1]

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.abuse_email,)


@dataclass(frozen=True)
class Csirt:
    """A national CSIRT stand-in: escalations for sites hosted in ``country`` reach it."""

    country: str
    name: str
    abuse_email: str
    behavior: Behavior = CSIRT_BEHAVIOR
    name_ja: str = ""

    @property
    def key(self) -> str:
        return f"csirt:{self.country}"

    @property
    def id(self) -> str:
        return self.country.lower()

    @property
    def domain(self) -> str:
        return self.abuse_email.split("@", 1)[1]

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.abuse_email,)

    @property
    def language(self) -> str:
        return "ja" if self.country == "JP" else "en"


@dataclass(frozen=True)
class Site:
    id: str
    url: str
    ip: str
    kind: str
    brand: str
    up: bool = True
    revive_after: float | None = None
    appears_at: float | None = None
    trap: str | None = None
    registrar: str = DEFAULT_REGISTRAR_ID
    aliases: tuple[str, ...] = ()
    registered_domain: str = ""
    # Parts of ``url``, split once: the farm routes every request by them.
    scheme: str = "http"
    host: str = ""
    path: str = "/"
    host_is_ip: bool = False


@dataclass(frozen=True)
class Reporter:
    name: str
    email: str
    type: str = "other"
    country: str = "JP"


@dataclass(frozen=True)
class Report:
    index: int
    at: float
    channel: str
    reporter: Reporter
    text: str
    subject: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    duration: float
    seed: int
    settings: dict[str, float]
    organizations: tuple[Organization, ...]
    registrars: tuple[Registrar, ...]
    sites: tuple[Site, ...]
    reports: tuple[Report, ...]
    rdap_rate_limits: dict[str, int] = field(default_factory=dict)
    source: str = ""
    csirts: tuple[Csirt, ...] = ()

    def org(self, org_id: str) -> Organization:
        for org in self.organizations:
            if org.id == org_id:
                return org
        raise KeyError(org_id)

    def site(self, site_id: str) -> Site:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise KeyError(site_id)

    def registrar(self, registrar_id: str) -> Registrar:
        for reg in self.registrars:
            if reg.id == registrar_id:
                return reg
        raise KeyError(registrar_id)

    def org_for_ip(self, ip: str) -> Organization | None:
        """The organisation holding the most specific network that contains ``ip``."""
        best: tuple[int, Organization | None] = (-1, None)
        for org in self.organizations:
            length = org.contains(ip)
            if length > best[0]:
                best = (length, org)
        return best[1]

    def org_for_site(self, site: Site) -> Organization:
        org = self.org_for_ip(site.ip)
        assert org is not None, "validated at load time"
        return org

    def org_for_address(self, address: str) -> Organization | None:
        address = address.lower()
        for org in self.organizations:
            if address in org.addresses:
                return org
        return None

    def party_for_address(self, address: str) -> Organization | Registrar | Csirt | None:
        """Whoever reads ``address``: an organisation, a registrar or a CSIRT stand-in."""
        address = address.lower()
        parties: list[Organization | Registrar | Csirt] = [
            *self.organizations,
            *self.registrars,
            *self.csirts,
        ]
        for party in parties:
            if address in party.addresses:
                return party
        return None

    @property
    def cdn_asns(self) -> dict[int, str]:
        """AS numbers of the organisations that are CDNs, with their names."""
        return {org.asn: org.name for org in self.organizations if org.cdn}

    @property
    def reporter_addresses(self) -> frozenset[str]:
        return frozenset(r.reporter.email.lower() for r in self.reports)

    @property
    def zones(self) -> tuple[str, ...]:
        """Registered domains of the sites (DNS zones the sandbox is authoritative for)."""
        seen: dict[str, None] = {}
        for site in self.sites:
            if site.registered_domain:
                seen[site.registered_domain] = None
        return tuple(seen)

    @property
    def tlds(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for zone in self.zones:
            seen[zone.rsplit(".", 1)[-1]] = None
        return tuple(seen)


# --- loading ----------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc}") from None
    return parse_scenario(text, source=str(path))


def parse_scenario(text: str, *, source: str = "<string>") -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{source}: not valid YAML{where}: {problem}") from None
    try:
        return scenario_from_dict(data, source=source)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def scenario_from_dict(data: Any, *, source: str = "<dict>") -> Scenario:
    r = _Reader(data, "")
    r.require_mapping()
    known = {
        "name",
        "duration",
        "seed",
        "settings",
        "organizations",
        "registrars",
        "sites",
        "reports",
        "rdap_rate_limits",
        "description",
        "csirts",
    }
    r.no_unknown(known)
    name = r.text("name")
    duration = r.number("duration", minimum=0.1)
    seed = r.integer("seed", default=0)
    settings = _settings(r.child("settings", default={}))
    rate_limits = _rate_limits(r.child("rdap_rate_limits", default={}))

    registrars = [_registrar(x) for x in r.child("registrars", default=[]).items()]
    if not any(reg.id == DEFAULT_REGISTRAR_ID for reg in registrars):
        registrars.append(
            Registrar(
                id=DEFAULT_REGISTRAR_ID,
                name="Example Registrar, Inc.",
                abuse_email="abuse@registrar.example",
                iana_id=9999,
                url="http://www.registrar.example",
            )
        )
    _unique([x.id for x in registrars], "registrars")
    registrar_ids = {x.id for x in registrars}

    orgs = [_organization(x) for x in r.child("organizations").items()]
    if not orgs:
        raise ScenarioError("organizations: at least one organisation is needed")
    _unique([o.id for o in orgs], "organizations")
    _unique([o.asn for o in orgs], "organizations (asn)")

    sites = [_site(x, registrar_ids) for x in r.child("sites").items()]
    _unique([s.id for s in sites], "sites")
    _unique([s.url for s in sites], "sites (url)")
    scenario_orgs = tuple(orgs)
    for i, site in enumerate(sites):
        holder = _holder(scenario_orgs, site.ip)
        if holder is None:
            raise ScenarioError(
                f"sites[{i}].ip: {site.ip} is in no organisation's networks "
                "(add it to an organisation's networks)"
            )

    reports = [
        _report(x, i, duration) for i, x in enumerate(r.child("reports", default=[]).items())
    ]
    csirts = [_csirt(x) for x in r.child("csirts", default=[]).items()]
    _unique([c.country for c in csirts], "csirts (country)")
    return Scenario(
        name=name,
        duration=duration,
        seed=seed,
        settings=settings,
        organizations=scenario_orgs,
        registrars=tuple(registrars),
        sites=tuple(sites),
        reports=tuple(reports),
        rdap_rate_limits=rate_limits,
        source=source,
        csirts=tuple(csirts),
    )


def registered_domain(host: str) -> str:
    """The registrable part of a host name, good enough for the sandbox's made-up zones.

    Scenario hosts live under reserved names (``.example``, ``.test``) that the Public
    Suffix List does not know, so the rule is simple: the last two labels, or three
    when the second-to-last is a generic second level such as ``co`` in ``co.jp``.
    """
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


# --- pieces -----------------------------------------------------------------------


def _holder(orgs: tuple[Organization, ...], ip: str) -> Organization | None:
    best: tuple[int, Organization | None] = (-1, None)
    for org in orgs:
        length = org.contains(ip)
        if length > best[0]:
            best = (length, org)
    return best[1]


def _settings(r: _Reader) -> dict[str, float]:
    r.require_mapping()
    out: dict[str, float] = {}
    for key in r.field_names():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise ScenarioError(f"settings.{key}: setting names are lower_snake_case")
        out[key] = r.number(key, minimum=0)
    return out


def _rate_limits(r: _Reader) -> dict[str, int]:
    r.require_mapping()
    out: dict[str, int] = {}
    for key in r.field_names():
        if key not in REGISTRIES:
            raise ScenarioError(f"rdap_rate_limits.{key}: must be one of {', '.join(REGISTRIES)}")
        out[key] = r.integer(key, minimum=1)
    return out


def _registrar(r: _Reader) -> Registrar:
    r.require_mapping()
    r.no_unknown(
        {"id", "name", "name_ja", "abuse_email", "rdap", "whois", "iana_id", "url", "behavior"}
    )
    rid = r.ident("id")
    return Registrar(
        id=rid,
        name=r.text("name"),
        name_ja=r.text("name_ja", default=""),
        abuse_email=r.email("abuse_email"),
        rdap=r.flag("rdap", default=True),
        whois=r.flag("whois", default=True),
        iana_id=r.integer("iana_id", default=9000 + (sum(map(ord, rid)) % 900), minimum=1),
        url=r.text("url", default=f"http://www.{rid}.example"),
        behavior=_behavior(
            r.child("behavior", default={}), REGISTRAR_BEHAVIOR, REGISTRAR_TAKEDOWN_STYLES
        )
        if r.has("behavior")
        else REGISTRAR_BEHAVIOR,
    )


def _csirt(r: _Reader) -> Csirt:
    r.require_mapping()
    r.no_unknown({"country", "name", "name_ja", "abuse_email", "behavior"})
    country = r.text("country").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ScenarioError(f"{r.path}country: {country!r} is not an ISO 3166 two-letter code")
    return Csirt(
        country=country,
        name=r.text("name"),
        name_ja=r.text("name_ja", default=""),
        abuse_email=r.email("abuse_email"),
        behavior=_behavior(r.child("behavior", default={}), CSIRT_BEHAVIOR, CSIRT_TAKEDOWN_STYLES)
        if r.has("behavior")
        else CSIRT_BEHAVIOR,
    )


def _behavior(
    r: _Reader,
    defaults: Behavior = Behavior(),
    styles: tuple[str, ...] = TAKEDOWN_STYLES,
) -> Behavior:
    """A ``behavior`` mapping; fields left out keep ``defaults`` (an organisation's: never acts)."""
    r.require_mapping()
    r.no_unknown(
        {
            "reply",
            "reply_after",
            "takedown_after",
            "takedown",
            "bounce",
            "bounce_names",
            "auto_reply",
        }
    )
    if r.data.get("takedown_after") == "never":
        takedown_after = None
    elif r.has("takedown_after"):
        takedown_after = r.number("takedown_after", minimum=0)
    else:
        takedown_after = defaults.takedown_after
    bounce: bool | str = defaults.bounce
    if r.has("bounce"):
        bounce = "all" if r.data.get("bounce") == "all" else r.flag("bounce")
    return Behavior(
        reply=r.choice("reply", REPLY_MODES, default=defaults.reply),
        reply_after=r.number("reply_after", default=defaults.reply_after, minimum=0) or 0.0,
        takedown_after=takedown_after,
        takedown=r.choice("takedown", styles, default=defaults.takedown),
        bounce=bounce,
        bounce_names=r.text("bounce_names", default=defaults.bounce_names),
        auto_reply=r.flag("auto_reply", default=defaults.auto_reply),
    )


def _organization(r: _Reader) -> Organization:
    r.require_mapping()
    r.no_unknown(
        {
            "id",
            "name",
            "name_ja",
            "country",
            "kind",
            "registry",
            "rdap",
            "whois",
            "networks",
            "asn",
            "abuse_email",
            "domain",
            "rate_limit",
            "behavior",
            "auto_reply",
            "cdn",
        }
    )
    networks = []
    net_reader = r.child("networks")
    for i, item in enumerate(net_reader.as_list()):
        where = f"{net_reader.path.rstrip('.')}[{i}]"
        try:
            net = ipaddress.ip_network(str(item), strict=True)
        except ValueError as exc:
            raise ScenarioError(f"{where}: not a network: {exc}") from None
        if not (net.subnet_of(_LOOPBACK_V4) if net.version == 4 else net.subnet_of(_LOOPBACK_V6)):  # type: ignore[arg-type]
            raise ScenarioError(
                f"{where}: {net} is outside 127.0.0.0/8; the sandbox only uses loopback addresses"
            )
        networks.append(net)
    if not networks:
        raise ScenarioError(f"{net_reader.path.rstrip('.')}: at least one network is needed")
    abuse = r.email("abuse_email")
    domain = r.text("domain", default=abuse.split("@", 1)[1]).lower()
    if not _HOSTNAME.match(domain):
        raise ScenarioError(f"{r.path}domain: {domain!r} is not a domain name")
    behavior = _behavior(r.child("behavior", default={}))
    if r.has("auto_reply"):
        # Accepted beside ``behavior`` too, since it describes the mail system, not a person.
        behavior = Behavior(**{**behavior.__dict__, "auto_reply": r.flag("auto_reply")})
    country = r.text("country").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ScenarioError(f"{r.path}country: {country!r} is not an ISO 3166 two-letter code")
    return Organization(
        id=r.ident("id"),
        name=r.text("name"),
        name_ja=r.text("name_ja", default=""),
        country=country,
        kind=r.choice("kind", ORG_KINDS),
        registry=r.choice("registry", REGISTRIES),
        rdap=r.flag("rdap", default=True),
        whois=r.flag("whois", default=True),
        networks=tuple(networks),
        asn=r.integer("asn", minimum=1, maximum=4294967295),
        abuse_email=abuse,
        domain=domain,
        rate_limit=r.integer("rate_limit", default=None, minimum=1),
        behavior=behavior,
        cdn=r.flag("cdn", default=False),
    )


def _site(r: _Reader, registrar_ids: set[str]) -> Site:
    r.require_mapping()
    r.no_unknown(
        {
            "id",
            "url",
            "ip",
            "kind",
            "brand",
            "up",
            "revive_after",
            "appears_at",
            "trap",
            "registrar",
            "aliases",
            "domain",
        }
    )
    url = r.text("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScenarioError(f"{r.path}url: {url!r} is not an http(s) URL with a host")
    if parts.port is not None:
        raise ScenarioError(
            f"{r.path}url: {url!r} names a port; scenario URLs use the scheme's default port "
            "and the sandbox maps it (see docs/sandbox.md)"
        )
    host = parts.hostname.lower()
    ip = r.text("ip")
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise ScenarioError(f"{r.path}ip: {ip!r} is not an IP address") from None
    if not addr.is_loopback:
        raise ScenarioError(f"{r.path}ip: {ip} is not a loopback address (127.0.0.0/8 or ::1)")
    if _is_ip(host):
        if ipaddress.ip_address(host) != addr:
            raise ScenarioError(f"{r.path}url: the URL's IP host differs from ip {ip}")
        domain = ""
    else:
        if not _HOSTNAME.match(host):
            raise ScenarioError(f"{r.path}url: {host!r} is not a valid host name")
        domain = r.text("domain", default=registered_domain(host)).lower()
        if host != domain and not host.endswith("." + domain):
            raise ScenarioError(f"{r.path}domain: {domain!r} is not a parent of {host!r}")
    registrar = r.text("registrar", default=DEFAULT_REGISTRAR_ID)
    if registrar not in registrar_ids:
        raise ScenarioError(f"{r.path}registrar: unknown registrar {registrar!r}")
    aliases = []
    alias_reader = r.child("aliases", default=[])
    for i, alias in enumerate(alias_reader.as_list()):
        alias = str(alias).lower()
        if not _HOSTNAME.match(alias):
            raise ScenarioError(
                f"{alias_reader.path.rstrip('.')}[{i}]: {alias!r} is not a host name"
            )
        aliases.append(alias)
    trap = r.choice("trap", TRAPS, default=None)
    return Site(
        id=r.ident("id"),
        url=url,
        ip=str(addr),
        kind=r.choice("kind", SITE_KINDS, default="phishing"),
        brand=r.text("brand", default="Example Bank"),
        up=r.flag("up", default=True),
        revive_after=r.number("revive_after", default=None, minimum=0),
        appears_at=r.number("appears_at", default=None, minimum=0),
        trap=trap,
        registrar=registrar,
        aliases=tuple(aliases),
        registered_domain=domain,
        scheme=parts.scheme,
        host=host,
        path=parts.path or "/",
        host_is_ip=_is_ip(host),
    )


def _report(r: _Reader, index: int, duration: float) -> Report:
    r.require_mapping()
    r.no_unknown({"at", "channel", "reporter", "text", "subject"})
    at = r.number("at", minimum=0)
    if at > duration:
        raise ScenarioError(f"{r.path}at: {at} is after the scenario's duration {duration}")
    rep = r.child("reporter")
    rep.require_mapping()
    rep.no_unknown({"name", "email", "type", "country"})
    reporter = Reporter(
        name=rep.text("name"),
        email=rep.email("email"),
        type=rep.choice("type", REPORTER_TYPES, default="other"),
        country=rep.text("country", default="JP").upper(),
    )
    text = r.text("text")
    return Report(
        index=index,
        at=at,
        channel=r.choice("channel", CHANNELS, default="email"),
        reporter=reporter,
        text=text,
        subject=r.text("subject", default=""),
    )


def _unique(values: list[Any], where: str) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ScenarioError(f"{where}: {v!r} appears more than once")
        seen.add(v)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_MISSING = object()


class _Reader:
    """Typed access to one YAML mapping, with the field path in every error."""

    def __init__(self, data: Any, path: str) -> None:
        self.data = data
        self.path = path  # "" or "organizations[0]." (ends with a dot)

    def require_mapping(self) -> None:
        if not isinstance(self.data, dict):
            where = self.path.rstrip(".") or "scenario"
            raise ScenarioError(f"{where}: must be a mapping, got {type(self.data).__name__}")

    def field_names(self) -> list[str]:
        return [str(k) for k in self.data]

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def no_unknown(self, known: set[str]) -> None:
        for key in self.data:
            if key not in known:
                raise ScenarioError(
                    f"{self.path}{key}: unknown field (known: {', '.join(sorted(known))})"
                )

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key)
        if value is None:
            if default is _MISSING:
                raise ScenarioError(f"{self.path}{key}: required")
            return default
        return value

    def child(self, key: str, default: Any = _MISSING) -> _Reader:
        return _Reader(self._get(key, default), f"{self.path}{key}.")

    def as_list(self) -> list[Any]:
        if not isinstance(self.data, list):
            raise ScenarioError(
                f"{self.path.rstrip('.')}: must be a list, got {type(self.data).__name__}"
            )
        return self.data

    def items(self) -> list[_Reader]:
        return [_Reader(x, f"{self.path.rstrip('.')}[{i}].") for i, x in enumerate(self.as_list())]

    def text(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ScenarioError(f"{self.path}{key}: must be a string")
        text = str(value).strip()
        if not text:
            raise ScenarioError(f"{self.path}{key}: must not be empty")
        return text

    def ident(self, key: str) -> str:
        value = self.text(key)
        if not _ID.match(value):
            raise ScenarioError(
                f"{self.path}{key}: {value!r} is not an id (letters, digits, '-', '_', '.')"
            )
        return str(value)

    def email(self, key: str) -> str:
        value = self.text(key)
        if not _EMAIL.match(value):
            raise ScenarioError(f"{self.path}{key}: {value!r} is not an e-mail address")
        return str(value).lower()

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ScenarioError(f"{self.path}{key}: must be true or false")
        return value

    def number(self, key: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"{self.path}{key}: must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise ScenarioError(f"{self.path}{key}: must be at least {minimum}, got {value}")
        return float(value)

    def integer(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str) and key == "asn" and value.upper().startswith("AS"):
            value = value[2:]
        try:
            if isinstance(value, (bool, float)):
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            raise ScenarioError(
                f"{self.path}{key}: must be a whole number, got {value!r}"
            ) from None
        if minimum is not None and number < minimum:
            raise ScenarioError(f"{self.path}{key}: must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ScenarioError(f"{self.path}{key}: must be at most {maximum}, got {number}")
        return number

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        text = str(value)
        if text not in choices:
            raise ScenarioError(
                f"{self.path}{key}: must be one of {', '.join(choices)} (got {value!r})"
            )
        return text
