from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
from collections.abc import Callable

import pytest

from takedown.sandbox.core import Sandbox
from takedown.sandbox.farm import MALWARE_SHA256, PRIVATE_REDIRECT
from takedown.sandbox.tests.small import SMALL

pytestmark = pytest.mark.concurrency


def get(
    sb: Sandbox,
    ip: str,
    host: str,
    path: str = "/",
    *,
    https: bool = False,
    timeout: float = 5,
    cafile: str | None = None,
) -> http.client.HTTPResponse:
    if https:
        ctx = ssl.create_default_context(cafile=sb.ca_path if cafile is None else (cafile or None))
        raw = socket.create_connection((ip, sb.https_port), timeout=timeout)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            ip, sb.https_port, timeout=timeout
        )
        conn.sock = ctx.wrap_socket(raw, server_hostname=host)
    else:
        conn = http.client.HTTPConnection(ip, sb.http_port, timeout=timeout)
    conn.request("GET", path, headers={"Host": host})
    return conn.getresponse()


@pytest.fixture
def small(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory(SMALL)


def test_it_serves_a_phishing_page_over_https_with_the_local_ca(sandbox: Sandbox) -> None:
    resp = get(sandbox, "127.2.0.20", "secure.card-b.example", "/login/", https=True)
    body = resp.read().decode()
    assert resp.status == 200
    assert "<title>Example Card B" in body and '<input type="password"' in body


def test_it_refuses_an_untrusted_client(sandbox: Sandbox) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        get(
            sandbox, "127.2.0.20", "secure.card-b.example", "/login/", https=True, cafile=""
        )  # the system store only


def test_it_serves_malware_with_a_fixed_hash(sandbox: Sandbox) -> None:
    resp = get(sandbox, "127.5.0.70", "update.dl-e.example", "/files/invoice.exe")
    data = resp.read()
    assert resp.status == 200
    assert hashlib.sha256(data).hexdigest() == MALWARE_SHA256
    assert "invoice.exe" in resp.headers["Content-Disposition"]


def test_it_routes_by_host_and_path(sandbox: Sandbox) -> None:
    assert get(sandbox, "127.1.0.30", "www.shop-c.example", "/account/").status == 200
    assert get(sandbox, "127.1.0.30", "verify.auction-c.example", "/signin/").status == 200
    assert get(sandbox, "127.1.0.30", "www.shop-c.example", "/other/").status == 404
    assert get(sandbox, "127.1.0.30", "unknown.example", "/").status == 404
    assert get(sandbox, "127.1.0.56", "bank-e-support.example").status == 404  # up: false


@pytest.mark.parametrize(
    ("site", "ip", "host", "path", "status", "marker"),
    [
        ("jp1", "127.11.0.1", "login.bank.example", "/jp/", 404, "Not Found"),
        ("za1", "127.15.0.1", "dl.files.example", "/tool.exe", 410, "Gone"),
        ("de1", "127.13.0.1", "id.mail.example", "/login/", 200, "Account Suspended"),
    ],
)
def test_it_takes_sites_down_in_style(
    small: Sandbox, site: str, ip: str, host: str, path: str, status: int, marker: str
) -> None:
    https = site == "jp1"
    assert get(small, ip, host, path, https=https).status == 200
    small.take_down(site)
    resp = get(small, ip, host, path, https=https)
    assert resp.status == status and marker in resp.read().decode()


def test_it_refuses_connections_and_comes_back(small: Sandbox) -> None:
    assert get(small, "127.12.0.1", "pay.shop.example").status == 200
    small.take_down("us1")
    with pytest.raises(ConnectionRefusedError):
        get(small, "127.12.0.1", "pay.shop.example")
    small.revive("us1")
    assert get(small, "127.12.0.1", "pay.shop.example").status == 200


def test_it_revives_once_after_a_takedown(small: Sandbox) -> None:
    small.take_down("jp1")
    assert small.site_status("jp1") == "down"
    small.wait_until(lambda: small.site_status("jp1") == "up", timeout=30)
    assert get(small, "127.11.0.1", "login.bank.example", "/jp/", https=True).status == 200
    small.take_down("jp1")
    time.sleep(0.8)
    assert small.site_status("jp1") == "down"
    assert small.site("jp1").revivals == 1


def test_it_makes_sites_appear_later(small: Sandbox) -> None:
    assert get(small, "127.11.0.3", "later.bank.example").status == 404
    small.wait_until(lambda: small.site_status("later") == "up", timeout=30)
    assert get(small, "127.11.0.3", "later.bank.example").status == 200


def test_it_serves_ip_host_urls(small: Sandbox) -> None:
    assert get(small, "127.16.0.9", "127.16.0.9", "/bank/").status == 200


def test_its_traps_bite(small: Sandbox) -> None:
    resp = get(small, "127.16.0.2", "loop.traps.example", "/a/")
    assert resp.status == 302 and resp.headers["Location"] == "/a/?r=1"
    resp = get(small, "127.16.0.2", "private.traps.example")
    assert resp.status == 302 and resp.headers["Location"] == PRIVATE_REDIRECT
    resp = get(small, "127.16.0.2", "bomb.traps.example")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert len(resp.read()) < 2 * 1024 * 1024
    resp = get(small, "127.16.0.2", "huge.traps.example")
    assert "Content-Length" not in resp.headers
    assert len(resp.read(4 * 1024 * 1024)) == 4 * 1024 * 1024
    resp.close()
    with pytest.raises(TimeoutError):
        get(small, "127.16.0.2", "slow.traps.example", timeout=1)
    with pytest.raises(ssl.SSLCertVerificationError):
        get(small, "127.16.0.2", "badtls.traps.example", https=True)
