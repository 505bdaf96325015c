"""DNS for the locate step: A and AAAA with CNAMEs followed, one clear outcome.

The monitor's stub resolver (``takedown.lib.dnsstub``), pointed at
``settings.DNS_RESOLVER`` (the sandbox's DNS server in tests) or the system's
resolvers, with ``settings.DNS_TIMEOUT`` as the limit for each name.  One
answer cache per process and resolver (``ANSWERS``), shared by every batch and thread: a
host asked again within its TTL is not asked again, and its result says when
the answer was had (``DnsResult.at``), which the timeline keeps.  Outcomes are
distinct because they mean different things to a handler: ``nxdomain`` (the
name is gone: maybe already taken down), ``servfail`` (the name's servers are
broken), ``timeout``, ``no_address`` (the name exists but has no A/AAAA),
``cname_loop``, ``invalid`` (not a host name) and ``error``.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field

from django.conf import settings

from takedown.lib.dnsstub import AnswerCache, StubResolver
from takedown.lib.fetch import system_nameservers

MAX_ADDRESSES = 64
MAX_CNAME_HOPS = 8
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Every locate batch of this process shares what DNS said, for its TTL: one
# cache per resolver configuration (tests and the sandbox change servers).
ANSWERS: dict[tuple[tuple[str, int], ...], AnswerCache] = {}


@dataclass
class DnsResult:
    host: str
    outcome: str
    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    error: str = ""
    elapsed: float = 0.0
    truncated: bool = False
    # When the answer was had (time.time()), and for how long it holds.
    at: float = 0.0
    ttl: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def make_resolver() -> StubResolver:
    """A stub resolver for the running event loop, sharing the process's answers.

    Close it when the loop's work is done (its sockets belong to the loop).
    """
    if settings.DNS_RESOLVER:
        servers = [settings.DNS_RESOLVER]
    else:
        servers = system_nameservers() or [("127.0.0.1", 53)]
    cache = ANSWERS.setdefault(tuple(servers), AnswerCache())
    return StubResolver(servers, timeout=float(settings.DNS_TIMEOUT), cache=cache)


def clear_answers() -> None:
    """Forget every cached DNS answer of this process (tests; after a DNS change)."""
    ANSWERS.clear()


def valid_hostname(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(_LABEL.match(label) for label in labels)


async def resolve_host(resolver: StubResolver, host: str) -> DnsResult:
    started = time.monotonic()
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return DnsResult(host, "ok", [host.strip("[]")], at=time.time())
    if not valid_hostname(host):
        return DnsResult(host, "invalid", error="not a valid host name")
    answer = await resolver.addresses(host, both=True)
    return DnsResult(
        host,
        answer.outcome,
        list(answer.addresses),
        list(answer.cnames),
        error=answer.error,
        elapsed=time.monotonic() - started,
        truncated=answer.truncated,
        at=answer.at,
        ttl=answer.ttl,
    )
