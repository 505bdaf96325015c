"""What one observation of a site proves: up, down, or nothing (inconclusive).

Framework-free: the checker (in the fetch thread) and the models share it.
The rule is "down only on positive evidence" (docs/monitor.md, "Outcomes"):
a site is down when something says it is gone (the name, the address, the
port, the page), never because we failed to read it.  A timeout, a broken or
oversized answer, a TLS failure, a server error or a cloaking 403 happen to
live phishing sites all the time; they are retried, never counted as down.
"""

from __future__ import annotations

UP = "up"
DOWN = "down"
INCONCLUSIVE = "inconclusive"

# Outcomes that prove the site is gone whatever the status.
DOWN_OUTCOMES = frozenset({"nxdomain", "no_address", "refused", "content_gone"})
# HTTP statuses that say the page is gone: not found, gone, removed for legal reasons.
DOWN_STATUSES = frozenset({404, 410, 451})
# Outcomes that say nothing about the site because we did not look: the URL
# led to an address we refuse to reach, our own code failed, or the DNS
# look-up failed (SERVFAIL, our resolver down: we never reached the site, and
# an outage of our resolver must not notify every new site unseen).  They
# never count towards the "notify anyway" rule of a first check.
NOT_LOOKED = frozenset({"blocked", "internal", "dns_error"})


def verdict(outcome: str, status: int | None) -> str:
    """``up``, ``down`` or ``inconclusive`` for a check's outcome and HTTP status."""
    if outcome == UP:
        return UP
    if outcome in DOWN_OUTCOMES:
        return DOWN
    if outcome == "http_error" and status in DOWN_STATUSES:
        return DOWN
    return INCONCLUSIVE
