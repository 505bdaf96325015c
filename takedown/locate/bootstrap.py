"""IANA's RDAP bootstrap registry (RFC 9224): which RDAP server holds what.

A snapshot of IANA's four files (``asn.json``, ``dns.json``, ``ipv4.json``,
``ipv6.json``) ships in ``takedown/locate/data/bootstrap/`` (public IANA
registry data, generated from the latest snapshot in ``../shared/data/bootstrap``),
so lookups work on a closed network.  When ``settings.RDAP_BOOTSTRAP_URL`` is
reachable the files are fetched from it at most once a day and kept in the data
directory; the sandbox points that setting at its own bootstrap server.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SNAPSHOT_DIR = Path(__file__).resolve().parent / "data" / "bootstrap"
FILES = ("ipv4", "ipv6", "asn", "dns")
REFRESH_AFTER = 24 * 3600
LOOPBACK_REFRESH_AFTER = 5
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Bootstrap:
    networks: list[tuple[IpNet, list[str]]] = field(default_factory=list)
    asns: list[tuple[int, int, list[str]]] = field(default_factory=list)
    tlds: dict[str, list[str]] = field(default_factory=dict)
    origin: str = "snapshot"
    publication: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, docs: dict[str, Any], *, origin: str) -> Bootstrap:
        boot = cls(origin=origin)
        for name in FILES:
            doc = docs.get(name)
            if not isinstance(doc, dict):
                continue
            boot.publication[name] = str(doc.get("publication", ""))
            for service in doc.get("services") or []:
                if not (isinstance(service, list) and len(service) >= 2):
                    continue
                entries, urls = service[0], service[1]
                if not (isinstance(entries, list) and isinstance(urls, list)):
                    continue
                urls = _order_urls([u for u in urls if isinstance(u, str)])
                if not urls:
                    continue
                for entry in entries:
                    if not isinstance(entry, str):
                        continue
                    boot._add(name, entry, urls)
        # Longest prefix first, so the first containing network is the most specific.
        boot.networks.sort(key=lambda item: item[0].prefixlen, reverse=True)
        return boot

    def _add(self, name: str, entry: str, urls: list[str]) -> None:
        try:
            if name in ("ipv4", "ipv6"):
                self.networks.append((ipaddress.ip_network(entry, strict=False), urls))
            elif name == "asn":
                low, _, high = entry.partition("-")
                self.asns.append((int(low), int(high or low), urls))
            elif name == "dns":
                self.tlds[entry.lower().strip(".")] = urls
        except ValueError:
            log.debug("bootstrap %s: bad entry %r", name, entry)

    @classmethod
    def snapshot(cls) -> Bootstrap:
        docs = {}
        for name in FILES:
            docs[name] = json.loads((SNAPSHOT_DIR / f"{name}.json").read_text())
        return cls.from_documents(docs, origin="snapshot")

    def for_ip(self, ip: str) -> list[str]:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return []
        for net, urls in self.networks:
            if net.version == addr.version and addr in net:
                return urls
        return []

    def for_asn(self, asn: int) -> list[str]:
        for low, high, urls in self.asns:
            if low <= asn <= high:
                return urls
        return []

    def for_domain(self, domain: str) -> list[str]:
        labels = domain.lower().strip(".").split(".")
        # RFC 9224: the longest matching label sequence wins (e.g. "co.uk" over "uk").
        for i in range(len(labels)):
            urls = self.tlds.get(".".join(labels[i:]))
            if urls:
                return urls
        return []


def _order_urls(urls: list[str]) -> list[str]:
    """HTTPS first (RFC 9224 section 3), each base ending in a slash."""
    fixed = [
        u if u.endswith("/") else u + "/" for u in urls if u.startswith(("http://", "https://"))
    ]
    return sorted(fixed, key=lambda u: not u.startswith("https://"))


_state: dict[str, Any] = {"boot": None, "checked": 0.0, "url": None}


def cache_dir() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "cache" / "rdap-bootstrap"


def cached_bootstrap() -> Bootstrap:
    """The best bootstrap available without the network: refreshed copy, else snapshot."""
    from django.conf import settings

    boot = _state["boot"]
    if boot is not None and _state["url"] == settings.RDAP_BOOTSTRAP_URL:
        assert isinstance(boot, Bootstrap)
        return boot
    docs = _read_cached(settings.RDAP_BOOTSTRAP_URL)
    boot = Bootstrap.from_documents(docs, origin="cache") if docs else Bootstrap.snapshot()
    _state.update(boot=boot, url=settings.RDAP_BOOTSTRAP_URL, checked=0.0)
    return boot


async def refreshed_bootstrap(fetch: Any) -> Bootstrap:
    """Refresh from ``settings.RDAP_BOOTSTRAP_URL`` when due; never fails.

    ``fetch(url)`` is the RDAP client's JSON fetcher (same address policy and
    time limits as registry queries).
    """
    from django.conf import settings

    boot = cached_bootstrap()
    base = settings.RDAP_BOOTSTRAP_URL
    if not base:
        return boot
    # A loopback bootstrap server is the sandbox, whose registries change with
    # every scenario: look again often.
    every = LOOPBACK_REFRESH_AFTER if _is_loopback_url(base) else REFRESH_AFTER
    if _state["checked"] and time.monotonic() - _state["checked"] < every:
        return boot
    _state["checked"] = time.monotonic()
    base = base if base.endswith("/") else base + "/"
    docs: dict[str, Any] = {}
    for name in FILES:
        try:
            doc = await fetch(f"{base}{name}.json")
        except Exception as exc:
            log.info("RDAP bootstrap %s%s.json not fetched: %s", base, name, exc)
            continue
        if isinstance(doc, dict) and isinstance(doc.get("services"), list):
            docs[name] = doc
    if not docs:
        return boot
    new = Bootstrap.from_documents(docs, origin="fetched")
    _write_cached(settings.RDAP_BOOTSTRAP_URL, docs)
    _state.update(boot=new, url=settings.RDAP_BOOTSTRAP_URL)
    return new


def reset_bootstrap() -> None:
    """Forget the loaded bootstrap (tests, or after changing the setting)."""
    _state.update(boot=None, checked=0.0, url=None)


def _cache_file(url: str) -> Path:
    import hashlib

    return cache_dir() / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".json")


def _read_cached(url: str) -> dict[str, Any] | None:
    if not url:
        return None
    try:
        data = json.loads(_cache_file(url).read_text())
    except (OSError, ValueError):
        return None
    return data.get("docs") if isinstance(data, dict) else None


def _is_loopback_url(url: str) -> bool:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _write_cached(url: str, docs: dict[str, Any]) -> None:
    try:
        path = _cache_file(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "docs": docs}))
        tmp.replace(path)
    except OSError as exc:
        log.info("cannot keep the RDAP bootstrap in %s: %s", cache_dir(), exc)
