"""The locator's registry steps that the sandbox does not exercise: related and
parent (``up``) records, JPNIC without an abuse address, CDN detection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from takedown.locate.engine import Locator
from takedown.locate.tests.servers import (
    DnsTestServer,
    LoopThread,
    RegistryServer,
    bootstrap_docs,
    rdap_json,
)

pytestmark = pytest.mark.concurrency


def vcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


def network(start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"objectClassName": "ip network", "startAddress": start, "endAddress": end, **extra}


@pytest.fixture
def world(settings: Any, loop_thread: LoopThread) -> Iterator[RegistryServer]:
    server = RegistryServer(loop_thread)
    dns = DnsTestServer(
        {
            "related.test": {"a": ["127.60.1.1"]},
            "bare.test": {"a": ["127.61.1.1"]},
            "jp.test": {"a": ["127.62.1.1"]},
            "cdn.test": {"cname": "x.cdn.cloudflare.net", "chase": True},
            "x.cdn.cloudflare.net": {"a": ["127.63.1.1"]},
        }
    ).start()
    jp_port = 0

    async def boot(request: web.Request) -> web.Response:
        name = request.match_info["file"].removesuffix(".json")
        docs = bootstrap_docs(
            server.base, ["127.60.0.0/16", "127.61.0.0/16", "127.62.0.0/16", "127.63.0.0/16"]
        )
        return web.json_response(docs[name])

    async def ip(request: web.Request) -> web.Response:
        q = request.match_info["q"]
        if q.startswith("127.60."):
            return rdap_json(
                network(
                    "127.60.0.0",
                    "127.60.255.255",
                    name="ALLOCATION",
                    links=[{"rel": "related", "href": server.base + "nir/ip/" + q}],
                )
            )
        if q.startswith("127.61."):
            return rdap_json(
                network(
                    "127.61.1.0",
                    "127.61.1.255",
                    name="CUSTOMER-1",
                    links=[{"rel": "up", "href": server.base + "parent/ip/127.61.0.0/16"}],
                )
            )
        if q.startswith("127.62."):
            return rdap_json(
                network(
                    "127.62.0.0",
                    "127.62.255.255",
                    name="JPNIC-BLOCK",
                    remarks=[
                        {
                            "description": [
                                "This information has been partially mirrored by APNIC from",
                                f"JPNIC. 127.0.0.1:{jp_port} for WHOIS client.",
                            ]
                        }
                    ],
                )
            )
        return rdap_json(
            network(
                "127.63.0.0",
                "127.63.255.255",
                entities=[
                    {
                        "roles": ["registrant"],
                        "vcardArray": vcard(["fn", {}, "text", "Cloudflare, Inc."]),
                    },
                    {
                        "roles": ["abuse"],
                        "vcardArray": vcard(["email", {}, "text", "abuse@cloudflare.example"]),
                    },
                ],
            )
        )

    async def nir(request: web.Request) -> web.Response:
        return rdap_json(
            network(
                "127.60.1.0",
                "127.60.1.255",
                country="JP",
                entities=[
                    {
                        "roles": ["registrant"],
                        "vcardArray": vcard(["fn", {}, "text", "Specific Holder K.K."]),
                    },
                    {
                        "roles": ["abuse"],
                        "vcardArray": vcard(["email", {}, "text", "abuse@specific.example"]),
                    },
                ],
            )
        )

    async def parent(request: web.Request) -> web.Response:
        return rdap_json(
            network(
                "127.61.0.0",
                "127.61.255.255",
                country="DE",
                entities=[
                    {
                        "roles": ["registrant"],
                        "vcardArray": vcard(["fn", {}, "text", "Parent Hosting GmbH"]),
                    },
                    {
                        "roles": ["abuse"],
                        "vcardArray": vcard(["email", {}, "text", "abuse@parent.example"]),
                    },
                ],
            )
        )

    async def jpnic(query: str) -> bytes:
        if query == "JP00001":
            text = (
                "Contact Information: [担当者情報]\n"
                "a. [JPNICハンドル]   JP00001\n"
                "d. [電子メール]   noc@jp-holder.example\n"
            )
        else:
            text = (
                "Network Information: [ネットワーク情報]\n"
                "a. [IPネットワークアドレス]     127.62.1.0/24\n"
                "f. [組織名]                     例示商事株式会社\n"
                "g. [Organization]               Example Trading K.K.\n"
                "n. [技術連絡担当者]             JP00001\n"
            )
        return text.encode("iso-2022-jp")

    jp_port = server.whois(jpnic)
    server.route("/bootstrap/{file}", boot)
    server.route("/ip/{q:.+}", ip)
    server.route("/nir/ip/{q:.+}", nir)
    server.route("/parent/ip/{q:.+}", parent)
    server.start()
    settings.DNS_RESOLVER = ("127.0.0.1", dns.port)
    settings.RDAP_BOOTSTRAP_URL = server.base + "bootstrap/"
    settings.LOCATE_REGISTRAR = False
    yield server
    server.stop()
    dns.stop()


def locate(*hosts: str) -> dict[str, Any]:
    locator = Locator()
    dns = asyncio.run(locator.resolve(list(hosts)))
    return asyncio.run(locator.locate(dns))


def test_it_prefers_the_more_specific_related_record(world: RegistryServer) -> None:
    res = locate("related.test")["related.test"]
    assert res.network is not None
    assert res.network.org_name == "Specific Holder K.K."
    assert res.abuse == ["abuse@specific.example"]
    assert res.prefix == "127.60.1.0/24"
    assert res.kind == "company"
    assert any("/nir/ip/" in s for s in res.sources)


def test_it_asks_the_parent_about_a_bare_assignment(world: RegistryServer) -> None:
    res = locate("bare.test")["bare.test"]
    assert res.network is not None
    assert res.network.org_name == "Parent Hosting GmbH"
    assert res.abuse == ["abuse@parent.example"]
    assert res.prefix == "127.61.1.0/24"  # the assignment itself, not the parent
    assert any("parent network" in e for e in res.errors)


def test_it_falls_back_to_the_jpnic_technical_contact(world: RegistryServer) -> None:
    res = locate("jp.test")["jp.test"]
    assert res.network is not None
    assert res.network.org_name == "Example Trading K.K."
    assert res.network.org_local == "例示商事株式会社"
    assert res.network.registry == "jpnic"
    assert res.abuse == []  # JPNIC published none...
    assert res.network.contacts == ["noc@jp-holder.example"]  # ...the contact is the fallback
    assert (res.kind, res.network.country) == ("company", "JP")


def test_it_sees_a_cdn_in_front(world: RegistryServer) -> None:
    res = locate("cdn.test")["cdn.test"]
    assert res.cdn is not None and res.cdn.name == "Cloudflare"
    assert res.dns.cnames == ["x.cdn.cloudflare.net"]
