"""The X-ARF v4 attachment of a notice (one report per site).

X-ARF v4 reports are JSON; the ``xarf`` package carries the official JSON
schemas and validates offline, so every attachment is checked before it is
sent.  A notice about several sites attaches a JSON array of reports, one per
site, because an X-ARF report has exactly one ``url``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

XARF_VERSION = "4.2.0"
# The content-base schema's pattern for "domain"; a host that does not match
# (an IP, punycode) is left out instead of making the report invalid.
_DOMAIN = re.compile(r"^([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}$")


def _iso(dt: datetime) -> str:
    return dt.astimezone().isoformat(timespec="seconds")


def xarf_report(
    *,
    url: str,
    host: str,
    kind: str,
    ip: str | None,
    first_seen: datetime,
    brand: str,
    team_name: str,
    team_email: str,
    evidence_sha256: str = "",
    verified_at: datetime | None = None,
    report_id: str | None = None,
) -> dict[str, Any]:
    team_domain = team_email.rpartition("@")[2] or "localhost"
    contact = {"org": team_name[:200], "contact": team_email, "domain": team_domain}
    report: dict[str, Any] = {
        "xarf_version": XARF_VERSION,
        "report_id": report_id or str(uuid.uuid4()),
        "timestamp": _iso(first_seen),
        "reporter": contact,
        "sender": contact,
        "source_identifier": ip or host,
        "category": "content",
        "type": "malware" if kind == "malware" else "phishing",
        "url": url,
        "evidence_source": "user_report",
        "verification_method": "automated_crawler",
        "attack_vector": "malware" if kind == "malware" else "phishing",
    }
    if _DOMAIN.match(host):
        report["domain"] = host
    if brand:
        report["target_brand"] = brand[:200]
    if verified_at:
        report["verified_at"] = _iso(verified_at)
    if ip:
        report["dns_records"] = {"aaaa" if ":" in ip else "a": [ip]}
    if evidence_sha256:
        # The snapshot itself stays with us; the hash lets the recipient match
        # what they find on the server against what we saw.
        report["evidence"] = [
            {
                "content_type": "text/plain",
                "description": "SHA-256 of the page as fetched by the reporting team",
                "payload": _b64(f"sha256:{evidence_sha256}"),
                "hash": f"sha256:{evidence_sha256}",
            }
        ]
    return report


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def xarf_errors(report: dict[str, Any]) -> list[str]:
    """Schema errors of one report (empty when valid)."""
    from xarf import schema_validator

    return [f"{e.field}: {e.message}" for e in schema_validator.validate(report)]
