from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from takedown.sandbox.core import Sandbox
from takedown.sandbox.tests.small import SMALL

pytestmark = pytest.mark.concurrency


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    async def fetch() -> tuple[int, dict[str, str], Any]:
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
            return resp.status, dict(resp.headers), await resp.json(content_type=None)

    return asyncio.run(fetch())


def _emails(entity: dict[str, Any]) -> list[str]:
    props = entity.get("vcardArray", ["vcard", []])[1]
    return [p[3] for p in props if p[0] == "email"]


def _roles(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for ent in doc.get("entities", []):
        for role in ent.get("roles", []):
            out[role] = ent
        for sub in ent.get("entities", []):
            for role in sub.get("roles", []):
                out.setdefault(role, sub)
    return out


def test_it_serves_rfc9224_bootstrap_files(sandbox: Sandbox) -> None:
    status, _headers, doc = _get(sandbox.rdap_bootstrap_url + "ipv4.json")
    assert status == 200 and doc["version"] == "1.0"
    by_net = {net: urls[0] for nets, urls in doc["services"] for net in nets}
    assert by_net["127.1.0.0/16"] == sandbox.rdap_base("apnic")  # JPNIC blocks are APNIC's
    assert by_net["127.5.0.0/16"] == sandbox.rdap_base("arin")
    _, _, asn = _get(sandbox.rdap_bootstrap_url + "asn.json")
    assert any(
        "64506-64506" in asns and urls == [sandbox.rdap_base("ripe")]
        for asns, urls in asn["services"]
    )
    _, _, dns = _get(sandbox.rdap_bootstrap_url + "dns.json")
    assert dns["services"] == [[["example"], [sandbox.rdap_base("registry")]]]
    status, _, _ = _get(sandbox.rdap_bootstrap_url + "nothing.json")
    assert status == 404


def test_it_links_arin_contacts_without_their_details(sandbox: Sandbox) -> None:
    status, headers, doc = _get(sandbox.rdap_base("arin") + "ip/127.5.0.70")
    assert status == 200
    assert headers["Content-Type"].startswith("application/rdap+json")
    assert doc["objectClassName"] == "ip network" and doc["handle"].startswith("NET-127-5-0-0")
    abuse = _roles(doc)["abuse"]
    assert "vcardArray" not in abuse
    status, _, entity = _get(abuse["links"][0]["href"])
    assert status == 200 and _emails(entity) == ["abuse@cloud-e.example"]
    roles = _roles(doc)
    assert {"technical", "administrative", "registrant"} <= set(roles)


def test_it_gives_ripe_style_abuse_roles(sandbox: Sandbox) -> None:
    _, _, doc = _get(sandbox.rdap_base("ripe") + "ip/127.6.0.52")
    roles = _roles(doc)
    # As RIPE writes a role: its general e-mail first, the abuse-mailbox typed "abuse".
    assert _emails(roles["abuse"]) == ["noc@host-f.example", "abuse@host-f.example"]
    typed = [p for p in roles["abuse"]["vcardArray"][1] if p[0] == "email"]
    assert [p[1] for p in typed] == [{"type": "email"}, {"type": "abuse"}]
    assert doc["country"] == "DE" and doc["handle"] == "127.6.0.0 - 127.6.255.255"
    _, _, tech = _get(roles["technical"]["links"][0]["href"])
    assert _emails(tech) == ["noc@host-f.example"]


def test_it_serves_jpnic_blocks_the_way_apnic_does(sandbox: Sandbox) -> None:
    _, _, doc = _get(sandbox.rdap_base("apnic") + "ip/127.1.0.10")
    roles = _roles(doc)
    # The abuse entity is JPNIC's own IRT; the holder's abuse address is only in JPNIC WHOIS.
    assert roles["abuse"]["handle"] == "IRT-JPNIC-JP"
    assert _emails(roles["abuse"]) == ["hostmaster@nic.ad.jp"]
    assert _emails(roles["technical"]) == ["noc@net-a.example"]
    assert _emails(roles["administrative"]) == ["hostmaster@net-a.example"]
    remarks = " ".join(" ".join(r["description"]) for r in doc["remarks"])
    assert "JPNIC WHOIS" in remarks
    assert f"127.0.0.1:{sandbox.whois_ports['jpnic']}" in remarks
    assert "abuse@net-a.example" not in str(doc)


def test_it_puts_afrinic_abuse_in_a_remark(sandbox: Sandbox) -> None:
    _, _, doc = _get(sandbox.rdap_base("afrinic") + "ip/127.8.0.55")
    assert "abuse" not in _roles(doc)
    assert doc["remarks"][0]["description"] == ["please send abuse reports to abuse@net-h.example"]


def test_it_serves_apnic_irt_and_lacnic_persons(sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = sandbox_factory(SMALL)
    _, _, doc = _get(sb.rdap_base("apnic") + "ip/127.16.0.9")
    assert _roles(doc)["abuse"]["handle"].startswith("IRT-")
    assert _emails(_roles(doc)["abuse"]) == ["abuse@kr-net.example"]
    status, _, doc = _get(sb.rdap_base("lacnic") + "ip/127.14.0.1")
    assert status == 404  # br-net is WHOIS only
    assert doc["errorCode"] == 404 and doc["title"] == "Not Found"


def test_it_answers_autnum_and_bad_queries(sandbox: Sandbox) -> None:
    status, _, doc = _get(sandbox.rdap_base("arin") + "autnum/64505")
    assert status == 200 and doc["handle"] == "AS64505" and doc["startAutnum"] == 64505
    status, _, doc = _get(sandbox.rdap_base("arin") + "autnum/64506")  # RIPE's, not ARIN's
    assert status == 404
    status, _, doc = _get(sandbox.rdap_base("arin") + "ip/not-an-ip")
    assert status == 400 and doc["errorCode"] == 400


def test_it_refers_domains_from_registry_to_registrar(sandbox: Sandbox) -> None:
    _, _, doc = _get(sandbox.rdap_base("registry") + "domain/bank-a.example")
    assert doc["ldhName"] == "BANK-A.EXAMPLE"
    related = [link["href"] for link in doc["links"] if link["rel"] == "related"]
    assert related == [sandbox.rdap_base("registrar/example-registrar") + "domain/BANK-A.EXAMPLE"]
    _, _, reg = _get(related[0])
    registrar = _roles(reg)["registrar"]
    abuse = registrar["entities"][0]
    assert _emails(abuse) == ["abuse@registrar.example"]
    # The registry does not know host names, only registrations.
    status, _, _ = _get(sandbox.rdap_base("registry") + "domain/login.bank-a.example")
    assert status == 404
    # A registrar without RDAP: no related link.
    _, _, doc = _get(sandbox.rdap_base("registry") + "domain/auction-c.example")
    assert not [link for link in doc["links"] if link["rel"] == "related"]


def test_it_limits_the_rate_per_client(sandbox_factory: Callable[..., Sandbox]) -> None:
    sb = sandbox_factory(SMALL)
    url = sb.rdap_base("arin") + "ip/127.12.0.1"
    statuses = [_get(url)[0] for _ in range(3)]
    assert statuses == [200, 200, 200]
    status, headers, doc = _get(url)
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert doc["errorCode"] == 429
    assert sb.rdap_queries["arin"] == 4
