"""DNS for the locate step: A and AAAA with CNAMEs followed, one clear outcome.

dnspython's async resolver, pointed at ``settings.DNS_RESOLVER`` (the sandbox's
DNS server in tests) or the system's resolvers, with ``settings.DNS_TIMEOUT``
as the limit for each name.  Outcomes are distinct because they mean different
things to a handler: ``nxdomain`` (the name is gone: maybe already taken down),
``servfail`` (the name's servers are broken), ``timeout``, ``no_address`` (the
name exists but has no A/AAAA), ``cname_loop``, ``invalid`` (not a host name)
and ``error``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
from django.conf import settings

MAX_ADDRESSES = 64
MAX_CNAME_HOPS = 8
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# When both A and AAAA fail, the more telling outcome is reported.
_PRIORITY = ["nxdomain", "cname_loop", "servfail", "timeout", "error", "no_address"]


@dataclass
class DnsResult:
    host: str
    outcome: str
    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    error: str = ""
    elapsed: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def make_resolver() -> dns.asyncresolver.Resolver:
    if settings.DNS_RESOLVER:
        host, port = settings.DNS_RESOLVER
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    resolver.timeout = float(settings.DNS_TIMEOUT)
    resolver.lifetime = float(settings.DNS_TIMEOUT)
    return resolver


def valid_hostname(host: str) -> bool:
    if not host or len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(_LABEL.match(label) for label in labels)


async def resolve_host(resolver: dns.asyncresolver.Resolver, host: str) -> DnsResult:
    started = time.monotonic()
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return DnsResult(host, "ok", [host.strip("[]")])
    if not valid_hostname(host):
        return DnsResult(host, "invalid", error="not a valid host name")
    (out4, addrs4, cn4, err4), (out6, addrs6, cn6, err6) = await asyncio.gather(
        _query(resolver, host, "A"), _query(resolver, host, "AAAA")
    )
    addresses = list(dict.fromkeys(addrs4 + addrs6))
    cnames = list(dict.fromkeys(cn4 + cn6))
    elapsed = time.monotonic() - started
    if addresses:
        return DnsResult(
            host,
            "ok",
            addresses[:MAX_ADDRESSES],
            cnames,
            elapsed=elapsed,
            truncated=len(addresses) > MAX_ADDRESSES,
        )
    outcome = min((out4, out6), key=_PRIORITY.index)
    error = err4 if outcome == out4 else err6
    return DnsResult(host, outcome, [], cnames, error=error, elapsed=elapsed)


async def _query(
    resolver: dns.asyncresolver.Resolver, host: str, rdtype: str
) -> tuple[str, list[str], list[str], str]:
    """(outcome, addresses, CNAME chain, error) for one record type."""
    current = dns.name.from_text(host)
    seen = {current}
    cnames: list[str] = []
    for _hop in range(MAX_CNAME_HOPS):
        try:
            answer = await resolver.resolve(current, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return "nxdomain", [], cnames, "the name does not exist"
        except dns.message.ChainTooLong:
            return "cname_loop", [], cnames, "CNAME chain too long or looping"
        except dns.resolver.NoNameservers as exc:
            if "ChainTooLong" in str(exc) or "chain" in str(exc).lower():
                return "cname_loop", [], cnames, "CNAME chain too long or looping"
            return "servfail", [], cnames, _short(exc)
        except dns.exception.Timeout:
            return "timeout", [], cnames, f"no answer within {resolver.lifetime:g}s"
        except dns.resolver.YXDOMAIN as exc:
            return "error", [], cnames, _short(exc)
        except dns.exception.DNSException as exc:
            return "error", [], cnames, _short(exc)
        for rrset in getattr(answer.chaining_result, "cnames", []) or []:
            for rdata in rrset:
                cnames.append(rdata.target.to_text(omit_final_dot=True).lower())
        if answer.rrset is not None:
            return "ok", [rdata.to_text() for rdata in answer.rrset], cnames, ""
        canonical = answer.canonical_name
        if canonical == current:
            return "no_address", [], cnames, f"no {rdtype} record"
        if canonical in seen:
            return "cname_loop", [], cnames, "CNAME loop"
        # The server gave the CNAME but not its target's records (another zone):
        # ask for the target ourselves.
        seen.add(canonical)
        current = canonical
    return "cname_loop", [], cnames, f"more than {MAX_CNAME_HOPS} CNAME hops"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
