"""The sandbox's RDAP service (RFC 9083) and IANA-style bootstrap files (RFC 9224).

One aiohttp application on one port serves every registry under its own base path
(``/arin/``, ``/ripe/``, ``/apnic/``, ``/lacnic/``, ``/afrinic/``), a domain registry
(``/registry/``) and one path per registrar (``/registrar/<id>/``), as separate
servers would. Each registry's answers copy the shape of its real responses
(``../shared/data/rdap/``):

- ARIN: the network links the holder organisation; its abuse, NOC and hostmaster
  POCs are only linked (handle, roles, self link): the e-mail needs ``/entity/``.
- RIPE: an ``abuse`` role entity whose vCard has the role's general e-mail (the
  NOC's) first and its abuse-mailbox (type ``abuse``) second; admin/tech
  entities by handle only.
- APNIC: an IRT object as the abuse entity, admin and tech roles with vCards.
- JPNIC blocks (served by APNIC): JPNIC's IRT (``hostmaster@nic.ad.jp``) as the
  abuse entity (a naive reader takes it for the holder's), the holder's
  admin/tech contacts, and a remark sending the reader to JPNIC WHOIS, where
  the holder's own abuse address is (``[Abuse]``).
- LACNIC: registrant organisation plus abuse/tech/admin persons with vCards.
- AFRINIC: no abuse entity; the abuse address sits in a remark of the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from takedown.sandbox.registry import (
    JPNIC_IRT_EMAIL,
    JPNIC_IRT_HANDLE,
    Contact,
    Directory,
    Holding,
    postal,
)
from takedown.sandbox.scenario import Registrar, Scenario

RIRS = ("arin", "ripe", "apnic", "lacnic", "afrinic")
JSON_TYPE = "application/rdap+json"
PUBLICATION = "2025-01-01T00:00:00Z"

_NOTICES: dict[str, list[dict[str, Any]]] = {
    "arin": [
        {
            "title": "Terms of Service",
            "description": [
                "By using the ARIN RDAP/Whois service, you are agreeing to the RDAP/Whois Terms of Use"  # noqa: E501 - copied server text
            ],
            "links": [
                {
                    "rel": "terms-of-service",
                    "type": "text/html",
                    "href": "https://www.arin.net/resources/registry/whois/tou/",
                }
            ],
        }
    ],
    "ripe": [
        {"title": "Filtered", "description": ["This output has been filtered."]},
        {"title": "Source", "description": ["Objects returned came from source", "RIPE"]},
        {
            "title": "Terms and Conditions",
            "description": [
                "This is the RIPE Database query service. The objects are in RDAP format."
            ],
            "links": [
                {
                    "rel": "terms-of-service",
                    "type": "application/pdf",
                    "href": "http://www.ripe.net/db/support/db-terms-conditions.pdf",
                }
            ],
        },
    ],
    "apnic": [
        {"title": "Source", "description": ["Objects returned came from source", "APNIC"]},
        {
            "title": "Terms and Conditions",
            "description": [
                "This is the APNIC WHOIS Database query service. The objects are in RDAP format."
            ],
            "links": [
                {
                    "rel": "terms-of-service",
                    "type": "text/html",
                    "href": "http://www.apnic.net/db/dbcopyright.html",
                }
            ],
        },
    ],
    "lacnic": [
        {
            "title": "Terms and Conditions",
            "description": ["This is the LACNIC RDAP service. Objects are in RDAP format."],
            "links": [
                {
                    "rel": "terms-of-service",
                    "type": "text/html",
                    "href": "http://www.lacnic.net/web/lacnic/registration-data-access-protocol",
                }
            ],
        }
    ],
    "afrinic": [
        {
            "title": "ABOUT",
            "description": ["This is the AfriNIC RDAP server."],
            "links": [
                {
                    "rel": "describedby",
                    "type": "text/html",
                    "href": "http://www.afrinic.net/en/library/membership-documents/197-database-afrinic-database-reference-manual-",
                }
            ],
        }
    ],
    "registry": [
        {
            "title": "Terms of Use",
            "description": ["Service subject to Terms of Use."],
            "links": [{"href": "https://registry.example/rdap/terms", "type": "text/html"}],
        },
        {
            "title": "Status Codes",
            "description": [
                "For more information on domain status codes, please visit https://icann.org/epp"
            ],
            "links": [{"href": "https://icann.org/epp", "type": "text/html"}],
        },
    ],
}

_CONFORMANCE = {
    "arin": ["nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
    "ripe": ["cidr0", "rdap_level_0", "nro_rdap_profile_0", "redacted"],
    "apnic": ["history_version_0", "nro_rdap_profile_0", "apnic_cidr0", "cidr0", "rdap_level_0"],
    "lacnic": ["rdap_level_0", "cidr0", "nro_rdap_profile_0"],
    "afrinic": ["rdap_level_0", "nro_rdap_profile_0"],
    "registry": [
        "rdap_level_0",
        "icann_rdap_technical_implementation_guide_0",
        "icann_rdap_response_profile_0",
    ],
}

_PORT43 = {
    "arin": "whois.arin.net",
    "ripe": "whois.ripe.net",
    "apnic": "whois.apnic.net",
    "lacnic": "whois.lacnic.net",
    "afrinic": "whois.afrinic.net",
}


def vcard(
    fn: str,
    *,
    kind: str = "group",
    email: str | None = None,
    tel: str | None = None,
    label: str | None = None,
    org: str | None = None,
    abuse_mailbox: str | None = None,
) -> list[Any]:
    props: list[list[Any]] = [["version", {}, "text", "4.0"], ["fn", {}, "text", fn]]
    props.append(["kind", {}, "text", kind])
    if label:
        props.append(["adr", {"label": label}, "text", ["", "", "", "", "", "", ""]])
    if tel:
        props.append(["tel", {"type": ["work", "voice"]}, "uri", f"tel:{tel}"])
    if email and abuse_mailbox:
        # RIPE: a role's e-mail and its abuse-mailbox, told apart by their type.
        props.append(["email", {"type": "email"}, "text", email])
        props.append(["email", {"type": "abuse"}, "text", abuse_mailbox])
    elif email:
        props.append(["email", {}, "text", email])
    if org:
        props.append(["org", {}, "text", org])
    return ["vcard", props]


def error_body(code: int, title: str, description: str) -> dict[str, Any]:
    return {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": code,
        "title": title,
        "description": [description],
    }


class RateLimiter:
    """Sliding one-minute windows per (client, key)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def check(self, client: str, key: str, limit: int) -> float | None:
        """Record one request; the seconds to wait when it is over the limit, else None."""
        now = self.clock()
        hits = self._hits[(client, key)]
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= limit:
            return max(1.0, hits[0] + 60 - now)
        hits.append(now)
        return None


class RdapData:
    """Builds the JSON documents; knows nothing about HTTP."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        base_url: Callable[[str], str],
        whois_name: Callable[[str], str],
    ) -> None:
        self.scenario = scenario
        self.directory = Directory(scenario)
        self.base_url = base_url  # "arin" -> "http://127.0.0.1:PORT/arin/"
        self.whois_name = whois_name  # "arin" -> what the records give as port43

    # --- helpers ---

    def _envelope(self, served_by: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = {"rdapConformance": _CONFORMANCE[served_by], "notices": _NOTICES[served_by]}
        doc.update(body)
        return doc

    def _link(self, served_by: str, path: str, rel: str = "self") -> dict[str, Any]:
        href = self.base_url(served_by) + path
        return {"value": href, "rel": rel, "href": href, "type": JSON_TYPE}

    def _contact_entity(
        self, holding: Holding, contact: Contact, *, full: bool, served_by: str
    ) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "objectClassName": "entity",
            "handle": contact.handle,
            "roles": [contact.role],
            "links": [self._link(served_by, f"entity/{contact.handle}")],
        }
        if full:
            street, city, region, code, country, tel = postal(holding.org.country)
            # RIPE's abuse-c role: its general e-mail is the NOC's, listed first,
            # and the abuse-mailbox second, as RIPE's RDAP writes a role object.
            ripe_abuse = holding.registry == "ripe" and contact.role == "abuse"
            entity["vcardArray"] = vcard(
                contact.name,
                email=holding.org.noc_email if ripe_abuse else contact.email,
                tel=tel,
                label=f"{street}\n{city}\n{region}\n{code}\n{country}".replace("\n\n", "\n"),
                org=holding.org.name,
                abuse_mailbox=contact.email if ripe_abuse else None,
            )
            entity["port43"] = self.whois_name(served_by)
        return entity

    def _org_entity(self, holding: Holding, served_by: str) -> dict[str, Any]:
        street, city, region, code, country, tel = postal(holding.org.country)
        return {
            "objectClassName": "entity",
            "handle": holding.org.handle,
            "roles": ["registrant"],
            "vcardArray": vcard(
                holding.org.name,
                kind="org",
                label=f"{street}\n{city}\n{region}\n{code}\n{country}".replace("\n\n", "\n"),
                tel=tel,
            ),
            "links": [self._link(served_by, f"entity/{holding.org.handle}")],
            "events": [
                {"eventAction": "registration", "eventDate": "2008-04-01T00:00:00Z"},
                {"eventAction": "last changed", "eventDate": "2024-06-01T00:00:00Z"},
            ],
        }

    def _jpnic_irt(self, *, full: bool = True) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "objectClassName": "entity",
            "handle": JPNIC_IRT_HANDLE,
            "roles": ["abuse"],
            "links": [self._link("apnic", f"entity/{JPNIC_IRT_HANDLE}")],
        }
        if full:
            entity["vcardArray"] = vcard(
                JPNIC_IRT_HANDLE,
                email=JPNIC_IRT_EMAIL,
                label="Urbannet-Kanda Bldg 4F, 3-6-2 Uchi-Kanda\\nChiyoda-ku, Tokyo 101-0047, Japan",  # noqa: E501 - copied server text
            )
            entity["remarks"] = [
                {"title": "remarks", "description": ["hostmaster@nic.ad.jp is invalid"]}
            ]
        return entity

    def entities_for(self, holding: Holding) -> list[dict[str, Any]]:
        """The ``entities`` array of a network or autnum, in the registry's style."""
        reg = holding.registry
        served_by = holding.served_by
        abuse, tech, admin = holding.contacts
        if reg == "arin":
            org = self._org_entity(holding, served_by)
            org["entities"] = [
                self._contact_entity(holding, c, full=False, served_by=served_by)
                for c in (abuse, tech, admin)
            ]
            return [org]
        if reg == "ripe":
            return [
                self._org_entity(holding, served_by),
                self._contact_entity(holding, abuse, full=True, served_by=served_by),
                self._contact_entity(holding, tech, full=False, served_by=served_by),
                self._contact_entity(holding, admin, full=False, served_by=served_by),
            ]
        if reg == "apnic":
            return [
                self._contact_entity(holding, tech, full=True, served_by=served_by),
                self._contact_entity(holding, admin, full=True, served_by=served_by),
                self._contact_entity(holding, abuse, full=True, served_by=served_by),
            ]
        if reg == "jpnic":
            return [
                self._jpnic_irt(),
                self._contact_entity(holding, admin, full=True, served_by=served_by),
                self._contact_entity(holding, tech, full=True, served_by=served_by),
            ]
        if reg == "lacnic":
            org = self._org_entity(holding, served_by)
            org["entities"] = [self._contact_entity(holding, admin, full=True, served_by=served_by)]
            return [
                self._contact_entity(holding, abuse, full=True, served_by=served_by),
                self._contact_entity(holding, tech, full=True, served_by=served_by),
                org,
            ]
        # afrinic: contacts without an abuse role; the abuse address is in a remark.
        return [
            self._contact_entity(holding, tech, full=True, served_by=served_by),
            self._contact_entity(holding, admin, full=True, served_by=served_by),
            {**self._org_entity(holding, served_by), "roles": []},
        ]

    def _remarks(self, holding: Holding) -> list[dict[str, Any]]:
        org = holding.org
        reg = holding.registry
        if reg == "jpnic":
            jpnic = self.whois_name("jpnic")
            return [
                {"title": "description", "description": [org.name]},
                {
                    "title": "remarks",
                    "description": [
                        "This information has been partially mirrored by APNIC from",
                        "JPNIC. To obtain more specific information, please use the",
                        "JPNIC WHOIS Database at",
                        "http://www.nic.ad.jp/en/db/whois/en-gateway.html or",
                        f"{jpnic} for WHOIS client. (The WHOIS client",
                        "defaults to Japanese output, use the /e switch for English",
                        "output)",
                    ],
                },
            ]
        if reg == "afrinic":
            return [
                {
                    "title": "Remark",
                    "description": [f"please send abuse reports to {org.abuse_email}"],
                }
            ]
        if reg in ("ripe", "apnic"):
            return [{"title": "description", "description": [org.name]}]
        return []

    # --- documents ---

    def ip(self, served_by: str, query: str) -> tuple[Holding, dict[str, Any]] | None:
        found = self.directory.network_for(query, served_by=served_by)
        if found is None:
            return None
        holding, net = found
        if not holding.org.rdap:
            return None
        first, last = net.network_address, net.broadcast_address
        version = f"v{net.version}"
        reg = holding.registry
        prefix_key = "v4prefix" if net.version == 4 else "v6prefix"
        body: dict[str, Any] = {
            "objectClassName": "ip network",
            "handle": f"{first} - {last}",
            "startAddress": str(first),
            "endAddress": str(last),
            "ipVersion": version,
            "name": holding.net_name(net),
            "type": "ASSIGNED PA",
            "country": holding.org.country,
            "cidr0_cidrs": [{prefix_key: str(first), "length": net.prefixlen}],
            "status": ["active"],
            "port43": self.whois_name(served_by),
            "entities": self.entities_for(holding),
            "events": [
                {"eventAction": "registration", "eventDate": "2010-04-01T00:00:00Z"},
                {"eventAction": "last changed", "eventDate": "2024-06-01T00:00:00Z"},
            ],
            "links": [self._link(served_by, f"ip/{net}")],
        }
        if reg == "arin":
            body["handle"] = holding.arin_net_handle(net)
            body["type"] = "DIRECT ALLOCATION"
            body["parentHandle"] = "NET-127-0-0-0-0"
            body["arin_originas0_originautnums"] = [holding.org.asn]
            del body["country"]  # ARIN networks carry no country; the org's vCard does
        elif reg == "lacnic":
            body["handle"] = str(net)
            body["type"] = "assigned"
            body["lang"] = "en"
        elif reg == "afrinic":
            body["type"] = "ASSIGNED PI"
            body["lang"] = "en"
        elif reg == "jpnic":
            body["type"] = "ASSIGNED NON-PORTABLE"
            body["parentHandle"] = "127.0.0.0 - 127.255.255.255"
        elif reg == "apnic":
            body["type"] = "ALLOCATED PORTABLE"
        remarks = self._remarks(holding)
        if remarks:
            body["remarks"] = remarks
        return holding, self._envelope(served_by, body)

    def autnum(self, served_by: str, asn: int) -> tuple[Holding, dict[str, Any]] | None:
        holding = self.directory.by_asn(asn, served_by=served_by)
        if holding is None or not holding.org.rdap:
            return None
        name = "".join(ch for ch in holding.org.id.upper() if ch.isalnum())[:16]
        body: dict[str, Any] = {
            "objectClassName": "autnum",
            "handle": f"AS{asn}",
            "startAutnum": asn,
            "endAutnum": asn,
            "name": f"{name}-AS",
            "country": holding.org.country,
            "port43": self.whois_name(served_by),
            "entities": self.entities_for(holding),
            "links": [self._link(served_by, f"autnum/{asn}")],
            "events": [{"eventAction": "registration", "eventDate": "2010-04-01T00:00:00Z"}],
        }
        remarks = self._remarks(holding)
        if remarks:
            body["remarks"] = remarks
        return holding, self._envelope(served_by, body)

    def entity(self, served_by: str, handle: str) -> tuple[Holding | None, dict[str, Any]] | None:
        if served_by == "apnic" and handle.upper() == JPNIC_IRT_HANDLE:
            return None, self._envelope("apnic", self._jpnic_irt())
        found = self.directory.contact(handle, served_by=served_by)
        if found is not None:
            holding, contact = found
            if not holding.org.rdap:
                return None
            return holding, self._envelope(
                served_by, self._contact_entity(holding, contact, full=True, served_by=served_by)
            )
        org_holding = self.directory.org_by_handle(handle, served_by=served_by)
        if org_holding is None or not org_holding.org.rdap:
            return None
        entity = self._org_entity(org_holding, served_by)
        entity["entities"] = [
            self._contact_entity(org_holding, c, full=False, served_by=served_by)
            for c in org_holding.contacts
        ]
        return org_holding, self._envelope(served_by, entity)

    # --- domains ---

    def _registrar_for(self, name: str) -> Registrar | None:
        name = name.lower().rstrip(".")
        for site in self.scenario.sites:
            if site.registered_domain == name:
                return self.scenario.registrar(site.registrar)
        return None

    def _registrar_entity(self, registrar: Registrar) -> dict[str, Any]:
        return {
            "objectClassName": "entity",
            "handle": str(registrar.iana_id),
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": str(registrar.iana_id)}],
            "vcardArray": vcard(registrar.name, kind="org"),
            "entities": [
                {
                    "objectClassName": "entity",
                    "roles": ["abuse"],
                    "vcardArray": vcard("", email=registrar.abuse_email, tel="+1.5555550100"),
                }
            ],
        }

    def _domain_common(self, name: str) -> dict[str, Any]:
        return {
            "objectClassName": "domain",
            "handle": f"{zlib.crc32(name.encode())}_DOMAIN_{name.rsplit('.', 1)[-1].upper()}-SBX",
            "ldhName": name.upper(),
            "status": ["client transfer prohibited"],
            "events": [
                {"eventAction": "registration", "eventDate": "2024-11-01T00:00:00Z"},
                {"eventAction": "expiration", "eventDate": "2025-11-01T00:00:00Z"},
                {"eventAction": "last update of RDAP database", "eventDate": PUBLICATION},
            ],
            "nameservers": [
                {"objectClassName": "nameserver", "ldhName": f"NS1.{name.upper()}"},
                {"objectClassName": "nameserver", "ldhName": f"NS2.{name.upper()}"},
            ],
            "secureDNS": {"delegationSigned": False},
        }

    def domain_registry(self, name: str) -> dict[str, Any] | None:
        name = name.lower().rstrip(".")
        registrar = self._registrar_for(name)
        if registrar is None:
            return None
        body = self._domain_common(name)
        links = [self._link("registry", f"domain/{name.upper()}")]
        if registrar.rdap:
            href = self.base_url(f"registrar/{registrar.id}") + f"domain/{name.upper()}"
            links.append({"value": href, "rel": "related", "href": href, "type": JSON_TYPE})
        body["links"] = links
        body["entities"] = [self._registrar_entity(registrar)]
        return self._envelope("registry", body)

    def domain_registrar(self, registrar_id: str, name: str) -> dict[str, Any] | None:
        name = name.lower().rstrip(".")
        registrar = self._registrar_for(name)
        if registrar is None or registrar.id != registrar_id or not registrar.rdap:
            return None
        body = self._domain_common(name)
        body["links"] = [
            {
                "value": self.base_url(f"registrar/{registrar.id}") + f"domain/{name.upper()}",
                "rel": "self",
                "href": self.base_url(f"registrar/{registrar.id}") + f"domain/{name.upper()}",
                "type": JSON_TYPE,
            }
        ]
        body["entities"] = [
            {
                "objectClassName": "entity",
                "roles": ["registrant"],
                "vcardArray": vcard("REDACTED FOR PRIVACY", kind="individual"),
                "remarks": [
                    {
                        "title": "REDACTED FOR PRIVACY",
                        "type": "object redacted due to authorization",
                        "description": ["Some of the data in this object has been removed."],
                    }
                ],
            },
            self._registrar_entity(registrar),
        ]
        body["port43"] = self.whois_name(f"registrar/{registrar.id}")
        return {
            "rdapConformance": _CONFORMANCE["registry"],
            "notices": [
                {
                    "title": "Terms of Use",
                    "description": [f"{registrar.name} RDAP service."],
                    "links": [{"href": registrar.url, "type": "text/html"}],
                }
            ],
            **body,
        }

    # --- bootstrap ---

    def bootstrap(self, kind: str) -> dict[str, Any] | None:
        services: list[list[list[str]]] = []
        if kind in ("ipv4", "ipv6"):
            version = 4 if kind == "ipv4" else 6
            by_base: dict[str, list[str]] = defaultdict(list)
            for holding in self.directory.holdings:
                for net in holding.org.networks:
                    if net.version == version:
                        by_base[self.base_url(holding.served_by)].append(str(net))
            services = [[nets, [base]] for base, nets in by_base.items()]
        elif kind == "asn":
            by_base = defaultdict(list)
            for holding in self.directory.holdings:
                asn = holding.org.asn
                by_base[self.base_url(holding.served_by)].append(f"{asn}-{asn}")
            services = [[asns, [base]] for base, asns in by_base.items()]
        elif kind == "dns":
            tlds = list(self.scenario.tlds)
            if tlds:
                services = [[tlds, [self.base_url("registry")]]]
        else:
            return None
        return {
            "version": "1.0",
            "publication": PUBLICATION,
            "description": f"RDAP bootstrap file for {kind} of the Takedown sandbox",
            "services": services,
        }


class RdapServer:
    """HTTP front of :class:`RdapData`, with query counts and rate limits."""

    def __init__(self, scenario: Scenario, whois_name: Callable[[str], str]) -> None:
        self.scenario = scenario
        self.host = "127.0.0.1"
        self.port = 0
        self.queries: Counter[str] = Counter()
        self.limiter = RateLimiter()
        self.data = RdapData(scenario, base_url=self.base_url, whois_name=whois_name)
        self._runner: web.AppRunner | None = None

    def base_url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/{name}/"

    @property
    def bootstrap_url(self) -> str:
        return f"http://{self.host}:{self.port}/bootstrap/"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/bootstrap/{file}", self.handle_bootstrap)
        app.router.add_get("/registry/domain/{name}", self.handle_registry_domain)
        app.router.add_get("/registrar/{rid}/domain/{name}", self.handle_registrar_domain)
        app.router.add_get("/{rir}/ip/{query:.+}", self.handle_ip)
        app.router.add_get("/{rir}/autnum/{asn}", self.handle_autnum)
        app.router.add_get("/{rir}/entity/{handle}", self.handle_entity)
        app.router.add_get("/{tail:.*}", self.handle_unknown)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- responses ---

    @staticmethod
    def _json(
        doc: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        resp = web.json_response(doc, status=status, content_type=JSON_TYPE, headers=headers)
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    def _not_found(self, what: str) -> web.Response:
        return self._json(error_body(404, "Not Found", f"No object found for {what}"), 404)

    def _limited(self, request: web.Request, key: str, limit: int | None) -> web.Response | None:
        if limit is None:
            return None
        wait = self.limiter.check(request.remote or "?", key, limit)
        if wait is None:
            return None
        return self._json(
            error_body(
                429, "Too Many Requests", f"Rate limit of {limit} queries per minute exceeded"
            ),
            429,
            headers={"Retry-After": str(math.ceil(wait))},
        )

    def _registry_gate(self, request: web.Request, rir: str) -> web.Response | None:
        self.queries[rir] += 1
        if rir not in RIRS:
            return self._not_found(request.path)
        return self._limited(request, f"registry:{rir}", self.scenario.rdap_rate_limits.get(rir))

    def _org_gate(self, request: web.Request, holding: Holding | None) -> web.Response | None:
        if holding is None:
            return None
        return self._limited(request, f"org:{holding.org.id}", holding.org.rate_limit)

    async def handle_bootstrap(self, request: web.Request) -> web.Response:
        self.queries["bootstrap"] += 1
        name = request.match_info["file"]
        doc = self.data.bootstrap(name.removesuffix(".json")) if name.endswith(".json") else None
        if doc is None:
            return self._not_found(name)
        # IANA serves the bootstrap files as plain JSON.
        return web.json_response(doc)

    async def handle_ip(self, request: web.Request) -> web.Response:
        rir = request.match_info["rir"]
        query = request.match_info["query"]
        gate = self._registry_gate(request, rir)
        if gate is not None:
            return gate
        try:
            if "/" in query:
                ipaddress.ip_network(query, strict=False)
            else:
                ipaddress.ip_address(query)
        except ValueError:
            return self._json(error_body(400, "Bad Request", f"Invalid IP address: {query}"), 400)
        found = self.data.ip(rir, query)
        if found is None:
            return self._not_found(query)
        holding, doc = found
        return self._org_gate(request, holding) or self._json(doc)

    async def handle_autnum(self, request: web.Request) -> web.Response:
        rir = request.match_info["rir"]
        gate = self._registry_gate(request, rir)
        if gate is not None:
            return gate
        raw = request.match_info["asn"].upper().removeprefix("AS")
        if not raw.isdigit():
            return self._json(error_body(400, "Bad Request", f"Invalid AS number: {raw}"), 400)
        found = self.data.autnum(rir, int(raw))
        if found is None:
            return self._not_found(f"AS{raw}")
        holding, doc = found
        return self._org_gate(request, holding) or self._json(doc)

    async def handle_entity(self, request: web.Request) -> web.Response:
        rir = request.match_info["rir"]
        gate = self._registry_gate(request, rir)
        if gate is not None:
            return gate
        handle = request.match_info["handle"]
        found = self.data.entity(rir, handle)
        if found is None:
            return self._not_found(handle)
        holding, doc = found
        return self._org_gate(request, holding) or self._json(doc)

    async def handle_registry_domain(self, request: web.Request) -> web.Response:
        self.queries["registry"] += 1
        name = request.match_info["name"]
        doc = self.data.domain_registry(name)
        return self._json(doc) if doc is not None else self._not_found(name)

    async def handle_registrar_domain(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        self.queries[f"registrar:{rid}"] += 1
        name = request.match_info["name"]
        doc = self.data.domain_registrar(rid, name)
        return self._json(doc) if doc is not None else self._not_found(name)

    async def handle_unknown(self, request: web.Request) -> web.Response:
        self.queries["other"] += 1
        await asyncio.sleep(0)
        return self._not_found(request.path)
