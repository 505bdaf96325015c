"""WHOIS (port 43) answers -> :class:`RegistryRecord`.

Formats read (examples in ``../shared/data/whois/``):

- RPSL, as RIPE, APNIC and AFRINIC write it (``inetnum:``, ``role:``, ``irt:``
  objects separated by blank lines; RIPE's ``% Abuse contact for ... is``);
- ARIN's (``NetRange:``, ``OrgName:``, ``OrgAbuseEmail:``);
- LACNIC's and registro.br's (``owner:``, ``abuse-c:`` pointing at a
  ``nic-hdl:`` person);
- JPNIC's and JPRS's bracketed form (``a. [Network Number]  ...``,
  ``[組織名]``), as text or wrapped in the web gateway's HTML;
- KRNIC's web gateway (its ``# ENGLISH`` half);
- the many domain registries' and registrars' ``Key: value`` forms, including
  section headers followed by indented lines (``Registrar:`` / ``Abuse Contact:``).

Comment lines (``%``, ``#``) are the servers' terms of use and are ignored,
except RIPE's abuse-contact line: an address a registry mentions in its
boilerplate (``abuse@nic.mx`` for spam about NIC Mexico itself) is not the
domain's or network's contact.
"""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import dataclass, field

from takedown.lib.ids import ascii_digits
from takedown.locate.rdap import nir_whois_server
from takedown.locate.records import (
    NIRS,
    TIER_IRT,
    TIER_REMARK,
    TIER_ROLE,
    AbuseCollector,
    RegistryRecord,
    abuse_lines,
    emails_in,
    normalise_addr,
    range_to_cidrs,
    set_aside_nir_addresses,
    summary_prefix,
)

MAX_TEXT = 1_000_000

_KEY_LINE = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9 ._/()'-]{0,60}?)\s*(?:\.{2,})?\s*:(?!//)[ \t]*(.*)$"
)
_BRACKET_LINE = re.compile(r"^\s*(?:[a-z]\.\s*)?\[([^\]]{1,40})\]\s*(.*)$")
_RIPE_ABUSE = re.compile(r"Abuse contact for '[^']*' is '([^']+)'", re.IGNORECASE)
# Keys whose addresses are the database's bookkeeping, not anyone to write to.
_BOOKKEEPING = {"changed", "notify", "upd-to", "mnt-nfy", "irt-nfy", "ref-nfy", "auth", "source"}
_TIER1_KEYS = {
    "orgabuseemail",
    "rabuseemail",
    "registrar abuse contact email",
    "abuse-email",
    "abuse contact email",
    "abuse email",
    "abuse",
    "abuse-mailbox-role",
}
_REMARK_KEYS = {"remarks", "descr", "comment", "comments", "remark", "description"}
_SOURCES = {
    "RIPE": "ripe",
    "APNIC": "apnic",
    "AFRINIC": "afrinic",
    "JPNIC": "jpnic",
    "KRNIC": "krnic",
    "LACNIC": "lacnic",
    "ARIN": "arin",
}
_REFERRAL_KEYS = {"refer", "whois", "referralserver", "registrar whois server", "whois server"}


class WhoisError(ValueError):
    pass


@dataclass
class _Object:
    # Which "% Information related to ..." part of the answer the object is in:
    # RIPE and APNIC answer with the most specific network's objects in one part
    # and a less specific network's in another.
    part: int = 0
    pairs: list[tuple[str, str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # lines without a key (continuations)
    sections: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.pairs[0][0] if self.pairs else ""

    @property
    def kind_value(self) -> str:
        return self.pairs[0][1] if self.pairs else ""

    def get(self, *keys: str) -> str | None:
        for k, v in self.pairs:
            if k in keys and v:
                return v
        return None

    def all(self, *keys: str) -> list[str]:
        return [v for k, v in self.pairs if k in keys and v]


def decode_whois(raw: bytes) -> str:
    """Bytes from a WHOIS server -> text, whatever the server's charset.

    JPNIC answers in ISO-2022-JP (7-bit, with escape sequences), some ccTLDs in
    Latin-1 or Shift_JIS, most in UTF-8; the escape sequences and a strict UTF-8
    attempt settle most answers, charset-normalizer the rest.
    """
    raw = raw[:MAX_TEXT]
    if b"\x1b$B" in raw or b"\x1b$@" in raw or b"\x1b(J" in raw:
        try:
            return raw.decode("iso-2022-jp")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        if best is not None:
            return str(best)
    except Exception:  # noqa: S110 - a detector failure only means Latin-1 below
        pass
    return raw.decode("latin-1")


def parse_whois(text: str) -> RegistryRecord:
    text = (text or "")[:MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n")
    if re.search(r"<\s*(pre|html|body|br)\b", text, re.IGNORECASE):
        text = _strip_html(text)
    rec = RegistryRecord(source="whois")
    if "# ENGLISH" in text and "KRNIC" in text:
        _krnic(rec, text)
    elif _is_bracketed(text):
        _bracketed(rec, text)
    else:
        _keyed(rec, text)
    referrals = list(dict.fromkeys(r for r in rec.referrals if r))
    rec.referrals = referrals
    return rec


# --- the Key: value family ------------------------------------------------------------


_PART_LINE = re.compile(r"^%\s*Information related to\b", re.IGNORECASE)


def _objects(text: str) -> tuple[list[_Object], list[tuple[int, str]]]:
    """Split into blank-line separated objects of ``key: value`` pairs.

    A key with no value opens a *section* ("Registrar:", "Abuse Contact:");
    the indented or key-less lines after it belong to that section, which is
    how several ccTLDs lay out the registrar and its abuse contact.
    """
    objects: list[_Object] = []
    comments: list[tuple[int, str]] = []
    part = 0
    current = _Object()
    section: str | None = None
    for raw_line in text.split("\n"):
        line = raw_line.rstrip()
        stripped = line.strip()
        indented = raw_line[:1].isspace()
        if stripped.startswith(("%", "#", ">>>")):
            if _PART_LINE.match(stripped):
                if current.pairs or current.text:
                    objects.append(current)
                part += 1
                current = _Object(part)
                section = None
            comments.append((part, stripped))
            continue
        if not stripped:
            if current.pairs or current.text:
                objects.append(current)
                current = _Object(part)
            section = None
            continue
        m = _KEY_LINE.match(line)
        if m:
            key = re.sub(r"\s+", " ", m.group(1).strip().lower()).rstrip(". ")
            value = m.group(2).strip()
            if not value:
                section = key
                current.sections.setdefault(key, [])
                current.pairs.append((key, ""))
                continue
            if section is not None and indented:
                keep = value if key in ("name", "organisation", "organization") else stripped
                current.sections[section].append(keep)
            elif section is not None:
                section = None
            current.pairs.append((key, value))
            continue
        if section is not None:
            current.sections[section].append(stripped)
        current.text.append(stripped)
    if current.pairs or current.text:
        objects.append(current)
    return objects, comments


def _keyed(rec: RegistryRecord, text: str) -> None:
    objects, comments = _objects(text)
    # Objects in the part of the most specific network come first (depth 0),
    # those of a less specific one (an allocation, the NIR's block) after them.
    best_part = _best_network(objects)[0]

    def depth(part: int) -> int:
        return 0 if best_part is None or part == best_part else 1

    abuse = AbuseCollector()
    for part, line in comments:
        m = _RIPE_ABUSE.search(line)
        if m:
            abuse.add(TIER_ROLE, m.group(1), depth(part))
    by_handle: dict[str, _Object] = {}
    for obj in objects:
        for key in ("nic-hdl", "nic-hdl-br", "irt"):
            handle = obj.get(key)
            if handle:
                by_handle[handle.upper()] = obj

    contacts: list[str] = []
    for obj in objects:
        is_irt = obj.kind == "irt"
        level = depth(obj.part)
        for key, value in obj.pairs:
            if key in _BOOKKEEPING:
                continue
            if key in _TIER1_KEYS:
                # ARIN: the network's own abuse POC before its organisation's.
                abuse.add(TIER_ROLE, value, level + (key == "orgabuseemail"))
            elif key == "abuse-c":
                target = by_handle.get(value.split()[0].upper()) if value.split() else None
                if target is not None:
                    found = target.all("abuse-mailbox") or target.all("e-mail", "email")
                    abuse.add(TIER_ROLE, [e for v in found for e in emails_in(v)], level)
            elif key == "abuse-mailbox":
                # An abuse-mailbox is the object's declared abuse address (the
                # IRT's above all): before addresses read out of remarks.
                abuse.add(TIER_ROLE, value, level)
            elif key in ("e-mail", "email") and is_irt:
                abuse.add(TIER_IRT, value, level)
            if not is_irt and key not in _TIER1_KEYS:
                contacts.extend(emails_in(value))
        for name, lines in obj.sections.items():
            if "abuse" in name:
                abuse.add(TIER_ROLE, [e for line in lines for e in emails_in(line)], level)
        if not is_irt:
            remark_lines = [v for k, v in obj.pairs if k in _REMARK_KEYS] + obj.text
            abuse.add(TIER_REMARK, abuse_lines(remark_lines), level)
            for key, value in obj.pairs:
                if key not in _BOOKKEEPING:
                    abuse.add(
                        TIER_REMARK,
                        [e for e in emails_in(value) if "abuse" in e.split("@")[0]],
                        level,
                    )
    rec.abuse = abuse.result()
    rec.irt_abuse = [a for a in rec.abuse if abuse.tier_of(a) == TIER_IRT]
    rec.contacts = list(dict.fromkeys(c for c in contacts if c not in rec.abuse))

    for obj in objects:
        for key, value in obj.pairs:
            if key in _REFERRAL_KEYS:
                server = _server(value)
                if server:
                    rec.referrals.append(server)

    if any(obj.get("netrange", "orgname", "orgid", "custname") for obj in objects):
        _arin(rec, objects)
    elif any(obj.kind in ("inetnum", "inet6num", "aut-num", "route", "route6") for obj in objects):
        _rpsl(rec, objects, [line for _part, line in comments])
        nir_irts = [o for o in objects if o.kind == "irt" and _nir_of_handle(o.kind_value)]
        set_aside_nir_addresses(
            rec, [e for o in nir_irts for _k, v in o.pairs for e in emails_in(v)]
        )
    elif _domain_object(objects) is not None:
        _domain(rec, objects, text)


def _nir_of_handle(handle: str) -> str | None:
    """``IRT-JPNIC-JP`` -> jpnic."""
    upper = handle.upper()
    return next((n.name for n in NIRS.values() if n.label in upper), None)


def _best_network(objects: list[_Object]) -> tuple[int | None, _Object | None, list[str]]:
    """(part, object, CIDRs) of the most specific inetnum/inet6num in the answer."""
    best: _Object | None = None
    best_size: int | None = None
    best_cidrs: list[str] = []
    for obj in objects:
        if obj.kind not in ("inetnum", "inet6num"):
            continue
        cidrs = _rpsl_cidrs(obj.pairs[0][1])
        size = sum(ipaddress.ip_network(c).num_addresses for c in cidrs) if cidrs else None
        if best is None or (size is not None and (best_size is None or size <= best_size)):
            best, best_size, best_cidrs = obj, size, cidrs
    return (best.part if best is not None else None), best, best_cidrs


def _arin(rec: RegistryRecord, objects: list[_Object]) -> None:
    nets = [o for o in objects if o.get("netrange", "cidr")]
    net = nets[-1] if nets else None
    rec.object_class = "ip network" if net else "autnum"
    if net is not None:
        netrange = net.get("netrange") or ""
        if " - " in netrange:
            start, end = (normalise_addr(x) for x in netrange.split(" - ", 1))
            rec.start, rec.end = start, end
        cidr = net.get("cidr") or ""
        rec.cidrs = [c.strip() for c in cidr.split(",") if c.strip()] or range_to_cidrs(
            rec.start or "", rec.end or ""
        )
        rec.prefix = summary_prefix(rec.cidrs, rec.start, rec.end)
        rec.name = net.get("netname")
        rec.network_handle = net.get("nethandle")
        origin = re.search(r"AS(\d+)", net.get("originas") or "")
        rec.asn = int(origin.group(1)) if origin else None
        organization = net.get("organization", "customer")
        if organization:
            m = re.match(r"(.*?)\s*\(([^()]+)\)\s*$", organization)
            rec.org, rec.handle = (m.group(1), m.group(2)) if m else (organization, None)
    else:
        asn = next((o.get("asnumber") for o in objects if o.get("asnumber")), None)
        rec.asn = int(asn) if asn and ascii_digits(asn) else None
    orgs = [o for o in objects if o.get("orgname", "custname")]
    if orgs:
        org = orgs[-1]
        rec.org = rec.org or org.get("orgname", "custname")
        rec.handle = rec.handle or org.get("orgid")
        rec.country = _country(org.get("country"))
    rec.handle = rec.handle or rec.network_handle
    rec.registry = "arin"


def _rpsl(rec: RegistryRecord, objects: list[_Object], comments: list[str]) -> None:
    _part, best, best_cidrs = _best_network(objects)
    if best is not None:
        rec.object_class = "ip network"
        value = best.pairs[0][1]
        if " - " in value:
            rec.start, rec.end = (normalise_addr(x) for x in value.split(" - ", 1))
        rec.cidrs = best_cidrs
        rec.prefix = summary_prefix(best_cidrs, rec.start, rec.end)
        rec.name = best.get("netname")
        rec.network_handle = rec.name
        rec.country = _country(best.get("country"))
        holder_ref = best.get("org", "ownerid")
        holder = next(
            (o for o in objects if o.kind == "organisation" and o.pairs[0][1] == holder_ref), None
        )
        rec.org = (
            (holder.get("org-name") if holder else None)
            or best.get("owner")
            or next(iter(best.all("descr")), None)
            or rec.name
        )
        rec.handle = holder_ref or rec.name
        origin = best.get("aut-num") or best.get("origin")
        if origin:
            m = re.search(r"(\d+)", origin)
            rec.asn = int(m.group(1)) if m else None
        source = (best.get("source") or "").split()[0].upper() if best.get("source") else ""
        rec.registry = _SOURCES.get(source) or ("lacnic" if best.get("ownerid") else None)
        all_text = "\n".join(
            [v for o in objects for k, v in o.pairs if k in _REMARK_KEYS] + comments
        )
        irt = " ".join(best.all("mnt-irt")).upper()
        for nir in NIRS.values():
            label = nir.label
            if (
                source == label
                or re.search(rf"IRT-{label}\b", irt)
                or re.search(rf"mirrored by APNIC from\s+{label}", all_text)
                or f"{label} Allocation Block" in all_text
            ):
                rec.nir = nir.name
                rec.nir_server = nir_whois_server(all_text, rec.nir)
                # APNIC's copy (its header, its remarks) or the NIR's own server.
                copy = re.search(r"\[whois\.apnic\.net\]|by APNIC|Allocation Block", all_text)
                rec.nir_answer = not copy and source == label
                if copy:
                    rec.registry = "apnic"
                break
        if rec.country is None:
            rec.country = next(
                (_country(o.get("country")) for o in objects if o.get("country")), None
            )
        return
    aut = next((o for o in objects if o.kind == "aut-num"), None)
    if aut is not None:
        rec.object_class = "autnum"
        m = re.search(r"(\d+)", aut.pairs[0][1])
        rec.asn = int(m.group(1)) if m else None
        rec.name = aut.get("as-name")
        rec.network_handle = aut.pairs[0][1]
        aut_ref = aut.get("org")
        aut_holder = next(
            (o for o in objects if o.kind == "organisation" and o.pairs[0][1] == aut_ref), None
        )
        rec.org = (aut_holder.get("org-name") if aut_holder else None) or aut.get("owner", "descr")
        rec.handle = aut_ref or aut.get("ownerid") or rec.network_handle
        rec.country = _country(
            aut.get("country") or (aut_holder.get("country") if aut_holder else None)
        )
        return
    route = next((o for o in objects if o.kind in ("route", "route6")), None)
    if route is not None:
        rec.object_class = "route"
        rec.prefix = route.pairs[0][1]
        rec.cidrs = _rpsl_cidrs(rec.prefix)
        m = re.search(r"(\d+)", route.get("origin") or "")
        rec.asn = int(m.group(1)) if m else None
        rec.org = route.get("descr")


def _rpsl_cidrs(value: str) -> list[str]:
    value = value.strip()
    if " - " in value:
        start, end = value.split(" - ", 1)
        return range_to_cidrs(start, end)
    return _expand_short_cidr(value)


def _expand_short_cidr(value: str) -> list[str]:
    """LACNIC writes ``200.57.128/19``; RIPE ``2001:0240::/32``."""
    addr, _, length = value.partition("/")
    if "." in addr and ":" not in addr:
        parts = addr.split(".")
        if not all(ascii_digits(p) for p in parts) or len(parts) > 4:
            return []
        addr = ".".join(str(int(p)) for p in parts + ["0"] * (4 - len(parts)))
    try:
        return [str(ipaddress.ip_network(f"{addr}/{length}" if length else addr, strict=False))]
    except ValueError:
        return []


_DOMAIN_KEYS = ("domain name", "domain", "domainname")


def _domain_object(objects: list[_Object]) -> _Object | None:
    for obj in objects:
        if any(k in _DOMAIN_KEYS for k, _v in obj.pairs):
            return obj
    return None


def _domain(rec: RegistryRecord, objects: list[_Object], text: str) -> None:
    rec.object_class = "domain"
    dom = _domain_object(objects)
    if dom is not None:
        value = dom.get(*_DOMAIN_KEYS) or next(
            (lines[0] for k, lines in dom.sections.items() if k in _DOMAIN_KEYS and lines), ""
        )
        rec.name = value.lower().split()[0] if value.split() else None
    name: str | None = None
    reg_abuse = AbuseCollector()
    nameservers: list[str] = []
    registrant_org: str | None = None
    for obj in objects:
        for key, value in obj.pairs:
            if (
                key
                in (
                    "registrar",
                    "sponsoring registrar",
                    "registrar name",
                    "registrar-name",
                )
                and not name
            ):
                name = value
            elif key in ("registrar abuse contact email", "abuse-email"):
                reg_abuse.add(TIER_ROLE, value)
            elif key in ("name server", "nserver", "nameserver", "name servers", "dns") and value:
                nameservers.append(value.split()[0].lower().rstrip("."))
            elif key in ("registrant organization", "org-name", "owner", "registrant") and not (
                registrant_org
            ):
                registrant_org = value
        for section, lines in obj.sections.items():
            if section in ("registrar", "registrar information") and lines and not name:
                name = lines[0]
            elif "abuse" in section:
                reg_abuse.add(TIER_ROLE, [e for line in lines for e in emails_in(line)])
            elif section in (
                "domain nameservers",
                "name servers",
                "nameservers",
                "name server information",
                "domain servers",
                "name servers in the listed order",
            ):
                nameservers.extend(
                    line.split()[0].lower().rstrip(".") for line in lines if line.split()
                )
    if name:
        rec.registrar = {"name": name, "abuse": reg_abuse.result(), "iana_id": None}
        iana = next(
            (o.get("registrar iana id") for o in objects if o.get("registrar iana id")), None
        )
        rec.registrar["iana_id"] = iana
    rec.nameservers = list(dict.fromkeys(n for n in nameservers if "." in n))
    if registrant_org and "redacted" not in registrant_org.lower():
        rec.org = registrant_org


# --- JPNIC / JPRS ------------------------------------------------------------------------


def _is_bracketed(text: str) -> bool:
    return bool(re.search(r"JP(NIC|RS) database", text)) or (
        len(re.findall(r"(?m)^\s*[a-z]\.\s*\[[^\]]+\]", text)) >= 2
    )


_JP_KEYS = {
    "network number": "prefix",
    "ipネットワークアドレス": "prefix",
    "ネットワーク番号": "prefix",
    "network name": "name",
    "ネットワーク名": "name",
    "organization": "org",
    "組織名": "org_local",
    "abuse": "abuse",
    "administrative contact": "contact",
    "管理者連絡窓口": "contact",
    "technical contact": "contact",
    "技術連絡担当者": "contact",
    "e-mail": "email",
    "電子メール": "email",
    "電子メイル": "email",
    "reply mail": "email",
    "nameserver": "ns",
    "name server": "ns",
    "ネームサーバ": "ns",
    "domain name": "domain",
    "ドメイン名": "domain",
    "organization type": "org_type",
    "組織種別": "org_type",
    "as number": "asn",
    "as番号": "asn",
    "as name": "name",
    "as名": "name",
    "jpnic handle": "handle",
    "jpnicハンドル": "handle",
}


def _bracketed(rec: RegistryRecord, text: str) -> None:
    jprs = "JPRS database" in text
    values: dict[str, list[str]] = {}
    # Only the first record counts: JPNIC appends "Less/More Specific Info."
    # listings of other networks after it.
    body = re.split(
        r"(?m)^(Less Specific Info\.|More Specific Info\.|上位情報|下位情報)\s*$", text
    )[0]
    for line in body.split("\n"):
        m = _BRACKET_LINE.match(line)
        if not m:
            continue
        key = m.group(1).strip().lower()
        value = m.group(2).strip()
        field_name = _JP_KEYS.get(key)
        if field_name and value:
            values.setdefault(field_name, []).append(value)
    abuse = AbuseCollector()
    for value in values.get("abuse", []):
        abuse.add(TIER_ROLE, value)
    rec.abuse = abuse.result()
    rec.contacts = [e for v in values.get("email", []) for e in emails_in(v) if e not in rec.abuse]
    rec.org = _first_value(values, "org")
    rec.org_local = _first_value(values, "org_local")
    rec.org_type = _first_value(values, "org_type")
    rec.name = _first_value(values, "name")
    rec.nameservers = [v.split()[0].lower() for v in values.get("ns", [])]
    rec.contact_handles = list(dict.fromkeys(values.get("contact", [])))
    if jprs or values.get("domain"):
        rec.object_class = "domain"
        rec.name = (values.get("domain") or [""])[0].lower() or rec.name
        rec.org = rec.org or rec.org_local
        return
    rec.country = "JP"
    if values.get("prefix"):
        rec.object_class = "ip network"
        rec.cidrs = _expand_short_cidr(values["prefix"][0].split()[0])
        rec.prefix = rec.cidrs[0] if rec.cidrs else values["prefix"][0]
    elif values.get("asn"):
        rec.object_class = "autnum"
        digits = re.sub(r"\D", "", values["asn"][0])
        rec.asn = int(digits) if digits else None
    elif values.get("handle"):
        rec.object_class = "entity"
        rec.handle = values["handle"][0]
        return
    rec.network_handle = rec.name
    rec.handle = rec.name
    rec.nir = "jpnic"
    rec.registry = "jpnic"
    rec.nir_answer = True


# --- KRNIC ---------------------------------------------------------------------------------


def _first_value(values: dict[str, list[str]], key: str) -> str | None:
    found = values.get(key)
    return found[0] if found else None


def _krnic(rec: RegistryRecord, text: str) -> None:
    english = text.split("# ENGLISH", 1)[1]
    blocks = re.split(r"\[\s*Network Information\s*\]", english)[1:]
    if not blocks:
        return
    block = blocks[-1]  # the most specific assignment comes last
    fields: dict[str, str] = {}
    emails: list[str] = []
    for line in block.split("\n"):
        m = re.match(r"^\s*([A-Za-z][A-Za-z0-9 -]{1,30}?)\s*:\s*(.+)$", line)
        if m:
            key = m.group(1).strip().lower()
            fields.setdefault(key, m.group(2).strip())
            if key in ("e-mail", "email"):
                emails.extend(emails_in(m.group(2)))
    rec.object_class = "ip network"
    rec.org = fields.get("organization name")
    rec.name = fields.get("service name") or fields.get("network type")
    rng = fields.get("ipv4 address") or fields.get("ipv6 address") or ""
    m = re.match(r"([0-9a-fA-F.:]+)\s*-\s*([0-9a-fA-F.:]+)", rng)
    if m:
        rec.start, rec.end = m.group(1), m.group(2)
        rec.cidrs = range_to_cidrs(rec.start, rec.end)
        rec.prefix = summary_prefix(rec.cidrs, rec.start, rec.end)
    rec.country = "KR"
    rec.contacts = list(dict.fromkeys(emails))
    rec.nir = "krnic"
    rec.registry = "krnic"
    rec.nir_answer = True
    rec.handle = rec.name


# --- helpers ---------------------------------------------------------------------------


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", text)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?s)<[^>]{0,2000}>", "", text)
    return html.unescape(text)


def _server(value: str) -> str | None:
    """``whois://whois.ripe.net``, ``rwhois://x:4321``, ``whois.apnic.net``, ``127.0.0.1:4343``."""
    value = value.strip().split()[0] if value.strip() else ""
    value = re.sub(r"^(r?whois)://", "", value, flags=re.IGNORECASE).rstrip("/")
    if value.lower().startswith(("http://", "https://")):
        return None
    if re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z0-9-]+(:\d{1,5})?", value):
        return value.lower()
    return None


def _country(value: str | None) -> str | None:
    from takedown.locate.countries import country_code

    return country_code((value or "").split("#")[0])


_REFERRAL_RE = re.compile(
    r"(?mi)^\s*(refer|ReferralServer|Registrar WHOIS Server|Whois Server)\s*:[ \t]*(\S+)[ \t\r]*$"
)


def referral_server(text: str) -> str | None:
    """The server an answer sends the reader on to (IANA ``refer:``, ARIN
    ``ReferralServer:``, a registry's ``Registrar WHOIS Server:``)."""
    for m in _REFERRAL_RE.finditer(text or ""):
        server = _server(m.group(2))
        if server:
            return server
    return None
