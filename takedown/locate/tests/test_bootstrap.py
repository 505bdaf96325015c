"""The RDAP bootstrap (RFC 9224): the shipped snapshot, and refreshing it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from takedown.locate.bootstrap import SNAPSHOT_DIR, Bootstrap, cached_bootstrap, refreshed_bootstrap
from takedown.locate.clients import Counters, RdapClient
from takedown.locate.tests.servers import LoopThread, RegistryServer, bootstrap_docs


def test_the_snapshot_knows_the_rirs_and_tlds() -> None:
    boot = Bootstrap.snapshot()
    assert boot.for_ip("8.8.8.8") == [
        "https://rdap.arin.net/registry/",
        "http://rdap.arin.net/registry/",
    ]
    assert boot.for_ip("133.1.2.5") == ["https://rdap.apnic.net/"]
    assert boot.for_ip("2a00:2381:ffff::1") == ["https://rdap.db.ripe.net/"]
    assert boot.for_ip("200.57.141.161") == ["https://rdap.lacnic.net/rdap/"]
    assert boot.for_asn(13335)[0] == "https://rdap.arin.net/registry/"
    assert boot.for_domain("www.example.com")[0].startswith("https://rdap.verisign.com/com/")
    assert boot.for_ip("not an ip") == [] and boot.for_domain("x.invalid-tld-zz") == []


def test_the_snapshot_is_iana_data_not_ours() -> None:
    for name in ("asn", "dns", "ipv4", "ipv6"):
        doc = json.loads((SNAPSHOT_DIR / f"{name}.json").read_text())
        assert doc["description"].startswith("RDAP bootstrap file for")
        assert doc["publication"]


def test_it_prefers_the_most_specific_entry_and_https() -> None:
    boot = Bootstrap.from_documents(
        {
            "ipv4": {
                "services": [
                    [["10.0.0.0/8"], ["http://wide.example/rdap"]],
                    [["10.1.0.0/16"], ["http://narrow.example/", "https://narrow.example/"]],
                    [["garbage", 5], ["ftp://nope.example/"]],
                ]
            },
            "dns": {
                "services": [
                    [["uk"], ["https://uk.example/"]],
                    [["co.uk"], ["https://co.example/"]],
                ]
            },
            "asn": {"services": "not a list"},
        },
        origin="test",
    )
    assert boot.for_ip("10.1.2.3") == ["https://narrow.example/", "http://narrow.example/"]
    assert boot.for_ip("10.9.9.9") == ["http://wide.example/rdap/"]
    assert boot.for_domain("bank.co.uk") == ["https://co.example/"]
    assert boot.for_domain("bank.uk") == ["https://uk.example/"]


def refresh() -> Bootstrap:
    async def go() -> Bootstrap:
        async with RdapClient.new_session() as session:
            client = RdapClient(session, Counters())
            return await refreshed_bootstrap(lambda url: client.get_json(url, kind="bootstrap"))

    return asyncio.run(go())


def test_it_refreshes_from_the_configured_url_and_keeps_a_copy(
    settings: Any, loop_thread: LoopThread
) -> None:
    server = RegistryServer(loop_thread)

    async def boot(request: web.Request) -> web.Response:
        docs = bootstrap_docs("http://rdap.local.example/", ["127.70.0.0/16"], ["test"])
        return web.json_response(docs[request.match_info["file"].removesuffix(".json")])

    server.route("/bootstrap/{file}", boot)
    server.start()
    try:
        settings.RDAP_BOOTSTRAP_URL = server.base + "bootstrap/"
        fetched = refresh()
        assert fetched.origin == "fetched"
        assert fetched.for_ip("127.70.1.1") == ["http://rdap.local.example/"]
        assert fetched.for_domain("a.test") == ["http://rdap.local.example/"]
    finally:
        server.stop()
    # The server is gone: the copy kept in the data directory is used.
    from takedown.locate.bootstrap import reset_bootstrap

    reset_bootstrap()
    again = cached_bootstrap()
    assert again.origin == "cache"
    assert again.for_ip("127.70.1.1") == ["http://rdap.local.example/"]


def test_it_falls_back_to_the_snapshot_when_the_url_is_unreachable(settings: Any) -> None:
    settings.RDAP_BOOTSTRAP_URL = "http://127.0.0.1:9/bootstrap/"
    boot = refresh()
    assert boot.origin == "snapshot"
    assert boot.for_ip("8.8.8.8")


def test_it_refuses_a_bootstrap_url_on_a_private_address(settings: Any) -> None:
    settings.RDAP_BOOTSTRAP_URL = "http://10.0.0.1/bootstrap/"
    assert refresh().origin == "snapshot"
