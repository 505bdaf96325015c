"""RDAP (RFC 9083) responses -> :class:`RegistryRecord`.

The parser reads any registry's style (ARIN, RIPE, APNIC, LACNIC, AFRINIC, domain
registries and registrars; examples in ``../shared/data/rdap/``) and never
trusts the shape: every field may be missing, of the wrong type or absurdly
nested, and the result is then simply emptier.  The network client that fetches
the documents is ``takedown.locate.clients``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from takedown.locate.countries import country_code
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
    registry_of,
    registry_of_handle,
    set_aside_nir_addresses,
    summary_prefix,
)

MAX_DEPTH = 6
MAX_ENTITIES = 500
# An RDAP path in a link: what "related" or "up" must point at for us to follow
# it (APNIC's "related" link to its web UI is not RDAP).
RDAP_PATH = re.compile(r"/(ip|domain|autnum|entity|nameserver)/[^/]+", re.IGNORECASE)


class RdapError(ValueError):
    """Not an RDAP object (malformed JSON, an error document, a list...)."""


@dataclass
class _Entity:
    handle: str
    roles: list[str]
    depth: int
    fn: str = ""
    org: str = ""
    kind: str = ""
    emails: list[str] = field(default_factory=list)
    # RIPE writes a role's abuse-mailbox as an e-mail with type "abuse" beside its
    # general e-mail ("ops@"): the typed one is the abuse address.
    abuse_emails: list[str] = field(default_factory=list)
    vcard_roles: list[str] = field(default_factory=list)  # vCard ROLE values
    remarks: list[str] = field(default_factory=list)
    self_link: str | None = None
    country: str | None = None
    iana_id: str | None = None
    url: str | None = None
    children: list[_Entity] = field(default_factory=list)

    @property
    def is_irt(self) -> bool:
        return self.handle.upper().startswith("IRT-")

    @property
    def is_abuse(self) -> bool:
        return "abuse" in self.roles or "abuse" in self.vcard_roles

    def nir_irt(self) -> str | None:
        """``IRT-JPNIC-JP`` -> jpnic: a national registry's own team."""
        if not self.is_irt:
            return None
        return next((n.name for n in NIRS.values() if n.label in self.handle.upper()), None)

    @property
    def display_name(self) -> str:
        for value in (self.fn, self.org):
            value = value.strip()
            if value and value.upper() != self.handle.upper() and "REDACTED" not in value.upper():
                return value
        return ""


def load_rdap(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RdapError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RdapError(f"not an RDAP object: a JSON {type(data).__name__}")
    return data


def parse_rdap(data: Any) -> RegistryRecord:
    if not isinstance(data, dict):
        raise RdapError(f"not an RDAP object: a JSON {type(data).__name__}")
    if "errorCode" in data and "objectClassName" not in data:
        title = _text(data.get("title")) or "error"
        raise RdapError(f"RDAP error {_text(data.get('errorCode'))}: {title}")
    rec = RegistryRecord(source="rdap")
    oclass = _text(data.get("objectClassName")).lower()
    if not oclass:
        # Old RIPE answers omit objectClassName; recognise the object by its fields.
        if "startAddress" in data or "ipVersion" in data:
            oclass = "ip network"
        elif "startAutnum" in data:
            oclass = "autnum"
        elif "ldhName" in data:
            oclass = "domain"
        elif "vcardArray" in data:
            oclass = "entity"
    rec.object_class = oclass or "unknown"
    rec.network_handle = _text(data.get("handle")) or None
    rec.name = _text(data.get("name")) or _text(data.get("ldhName")).lower() or None
    rec.country = country_code(_text(data.get("country")))
    rec.port43 = _text(data.get("port43")) or None

    counter = [0]
    entities = [
        e for e in (_entity(x, 1, counter) for x in _list(data.get("entities"))) if e is not None
    ]
    flat = list(_walk(entities))

    abuse = AbuseCollector()
    contacts: list[str] = []
    nir_owned: list[str] = []
    for ent in flat:
        if ent.nir_irt():
            nir_owned.extend(ent.emails)
        if ent.is_abuse:
            # The abuse role first, the registry's own IRT objects included
            # (APNIC's holders' teams); a national registry's IRT is set aside
            # below once the block is known to be that NIR's.
            found = ent.abuse_emails or ent.emails
            if found:
                abuse.add(TIER_ROLE, found, ent.depth)
                contacts.extend(e for e in ent.emails if e not in found)
            elif ent.self_link or ent.handle:
                rec.linked_abuse.append(ent.self_link or ent.handle)
        elif ent.is_irt:
            abuse.add(TIER_IRT, ent.emails, ent.depth)
        if ent.is_irt:
            continue
        abuse.add(TIER_REMARK, abuse_lines(ent.remarks), ent.depth)
        abuse.add(TIER_REMARK, [e for e in ent.emails if "abuse" in e.split("@")[0]], ent.depth)
        if not ent.is_abuse and "registrar" not in ent.roles:
            contacts.extend(ent.emails)
    top_remarks = _remark_lines(data.get("remarks"))
    abuse.add(TIER_REMARK, abuse_lines(top_remarks), 0)
    rec.abuse = abuse.result()
    rec.irt_abuse = [a for a in rec.abuse if abuse.tier_of(a) == TIER_IRT]
    rec.contacts = list(dict.fromkeys(c for c in contacts if c not in rec.abuse))

    # The holder: the registrant (shallowest), else an entity that is an
    # organisation, else the registry's description of the network, else its name.
    holder = _first(flat, lambda e: "registrant" in e.roles and bool(e.display_name))
    if holder is None and oclass != "domain":
        holder = _first(flat, lambda e: e.kind == "org" and bool(e.display_name))
    described = _described(data.get("remarks"))
    if oclass == "entity":
        top = _entity(data, 0, [0])
        rec.org = top.display_name if top else None
        rec.handle = rec.network_handle
        if top and top.country:
            rec.country = rec.country or top.country
    elif holder is not None:
        rec.org = holder.display_name
        rec.org_from = "registrant" if "registrant" in holder.roles else "organisation"
        rec.handle = holder.handle or rec.network_handle
        rec.country = rec.country or holder.country
    elif oclass != "domain":
        rec.org = described or rec.name
        rec.org_from = "description" if described else ("name" if rec.name else None)
    if rec.handle is None:
        registrant = _first(
            flat,
            lambda e: (
                "registrant" in e.roles and bool(e.handle) and not e.handle.upper().endswith("-MNT")
            ),
        )
        rec.handle = registrant.handle if registrant else rec.network_handle

    if oclass == "ip network" or "startAddress" in data:
        _network(rec, data)
    elif oclass == "autnum":
        start = data.get("startAutnum")
        if isinstance(start, int):
            rec.asn = start
        else:
            m = re.fullmatch(r"(?i)AS(\d+)", rec.network_handle or "")
            rec.asn = int(m.group(1)) if m else None
    elif oclass == "domain":
        _domain(rec, data, flat)

    for link in _list(data.get("links")):
        if not isinstance(link, dict):
            continue
        rel = _text(link.get("rel")).lower()
        href = _text(link.get("href"))
        if not href.startswith(("http://", "https://")):
            continue
        if rel == "related" and RDAP_PATH.search(href):
            rec.related.append(href)
        elif rel == "up" and RDAP_PATH.search(href):
            rec.up = href
    _nir(rec, top_remarks + [line for e in flat for line in e.remarks], flat)
    set_aside_nir_addresses(rec, nir_owned)
    rec.registry = (
        registry_of(rec.port43 or "")
        or registry_of_handle(rec.handle)
        or next((r for r in map(registry_of_handle, (e.handle for e in flat)) if r), None)
    )
    # Whose server answered (its port43 or its own link), not whose handles it
    # mentions: APNIC's copy names JPNIC's IRT-JPNIC-JP.
    answered_by = registry_of(rec.port43 or "") or registry_of(_self_link(data) or "")
    rec.nir_answer = rec.nir is not None and answered_by == rec.nir
    return rec


def _self_link(data: dict[str, Any]) -> str | None:
    for link in _list(data.get("links")):
        if isinstance(link, dict) and _text(link.get("rel")).lower() == "self":
            return _text(link.get("href")) or None
    return None


def entity_emails(data: Any) -> list[str]:
    """The e-mail addresses of a fetched entity document (for linked-only abuse contacts)."""
    if not isinstance(data, dict):
        return []
    ent = _entity(data, 0, [0])
    return ent.emails if ent else []


# --- pieces -----------------------------------------------------------------------


def _network(rec: RegistryRecord, data: dict[str, Any]) -> None:
    cidrs = []
    for item in _list(data.get("cidr0_cidrs")):
        if not isinstance(item, dict):
            continue
        base = _text(item.get("v4prefix") or item.get("v6prefix"))
        length = item.get("length")
        if base and isinstance(length, int):
            cidrs.append(f"{normalise_addr(base)}/{length}")
    start, end = _text(data.get("startAddress")), _text(data.get("endAddress"))
    if start and end:
        rec.start, rec.end = normalise_addr(start), normalise_addr(end)
        if not cidrs:
            cidrs = range_to_cidrs(start, end)
    rec.cidrs = _valid_cidrs(cidrs)
    rec.prefix = summary_prefix(rec.cidrs, rec.start, rec.end)
    origins = data.get("arin_originas0_originautnums")
    if isinstance(origins, list) and origins and isinstance(origins[0], int):
        rec.asn = origins[0]


def _valid_cidrs(cidrs: list[str]) -> list[str]:
    import ipaddress

    out = []
    for c in cidrs:
        try:
            out.append(str(ipaddress.ip_network(c, strict=False)))
        except ValueError:
            continue
    return out


def _domain(rec: RegistryRecord, data: dict[str, Any], flat: list[_Entity]) -> None:
    for ns in _list(data.get("nameservers")):
        if isinstance(ns, dict):
            name = _text(ns.get("ldhName")).lower().rstrip(".")
            if name:
                rec.nameservers.append(name)
    registrar = _first(flat, lambda e: "registrar" in e.roles)
    if registrar is not None:
        abuse = AbuseCollector()
        for child in _walk(registrar.children):
            if "abuse" in child.roles:
                abuse.add(TIER_ROLE, child.emails, child.depth)
        rec.registrar = {
            "name": registrar.display_name or None,
            "abuse": abuse.result(),
            "iana_id": registrar.iana_id,
            "handle": registrar.handle or None,
        }


def _nir(rec: RegistryRecord, remarks: list[str], flat: list[_Entity]) -> None:
    """A block managed by a national registry (JPNIC...) whose details are there."""
    text = "\n".join(remarks)
    for nir in NIRS.values():
        name = nir.label
        irt = any(e.nir_irt() == nir.name for e in flat)
        mirrored = re.search(rf"(mirrored by APNIC from\s+{name}|{name} Allocation Block)", text)
        if irt or mirrored:
            rec.nir = nir.name
            break
    if rec.nir:
        rec.nir_server = nir_whois_server(text, rec.nir)


def nir_whois_server(text: str, nir: str) -> str | None:
    """The WHOIS server a remark sends the reader to ("whois.nic.ad.jp for WHOIS client")."""
    m = re.search(r"(\S+)\s+for WHOIS client", text, re.IGNORECASE)
    if m and _looks_like_server(m.group(1)):
        return m.group(1)
    m = re.search(r"\b(whois\.[a-z0-9.-]+\.[a-z]{2,})\b", text, re.IGNORECASE)
    if m:
        return m.group(1).lower().rstrip(".")
    known = NIRS.get(nir)
    return known.whois if known else None


def _looks_like_server(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:]+\](:\d{1,5})?", token))


def _entity(raw: Any, depth: int, counter: list[int]) -> _Entity | None:
    if not isinstance(raw, dict) or depth > MAX_DEPTH or counter[0] >= MAX_ENTITIES:
        return None
    counter[0] += 1
    roles = [r.lower() for r in _list(raw.get("roles")) if isinstance(r, str)]
    ent = _Entity(handle=_text(raw.get("handle")), roles=roles, depth=depth)
    _vcard(ent, raw.get("vcardArray"))
    ent.remarks = _remark_lines(raw.get("remarks"))
    for link in _list(raw.get("links")):
        if isinstance(link, dict) and _text(link.get("rel")).lower() == "self":
            href = _text(link.get("href"))
            if href.startswith(("http://", "https://")):
                ent.self_link = href
    for pid in _list(raw.get("publicIds")):
        if isinstance(pid, dict) and "iana" in _text(pid.get("type")).lower():
            ent.iana_id = _text(pid.get("identifier")) or None
    for child in _list(raw.get("entities")):
        sub = _entity(child, depth + 1, counter)
        if sub is not None:
            ent.children.append(sub)
    return ent


def _vcard(ent: _Entity, vcard: Any) -> None:
    if not (isinstance(vcard, list) and len(vcard) >= 2 and isinstance(vcard[1], list)):
        return
    for prop in vcard[1]:
        if not (isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str)):
            continue
        name, params, value = prop[0].lower(), prop[1], prop[3]
        if name == "fn":
            ent.fn = _text(value)
        elif name == "org":
            ent.org = _text(value[0] if isinstance(value, list) and value else value)
        elif name == "kind":
            ent.kind = _text(value).lower()
        elif name == "email":
            found = [e for e in emails_in(_text(value)) if e not in ent.emails]
            # RFC 6350 PREF=1 is the most preferred address.
            if _param(params, "pref") == ["1"]:
                ent.emails[:0] = found
            else:
                ent.emails.extend(found)
            if "abuse" in _param(params, "type"):
                ent.abuse_emails.extend(e for e in found if e not in ent.abuse_emails)
        elif name == "role":
            ent.vcard_roles.append(_text(value).lower())
        elif name == "adr":
            ent.country = ent.country or _adr_country(params, value)
        elif name == "url":
            ent.url = _text(value) or None


def _param(params: Any, name: str) -> list[str]:
    """A vCard parameter's values, lower-cased (a string or a list of strings)."""
    value = params.get(name) if isinstance(params, dict) else None
    values = value if isinstance(value, list) else [value]
    return [v.strip().lower() for v in values if isinstance(v, str)]


def _adr_country(params: Any, value: Any) -> str | None:
    if isinstance(params, dict):
        cc = params.get("cc")
        if isinstance(cc, str) and len(cc.strip()) == 2:
            return cc.strip().upper()
    if isinstance(value, list) and len(value) >= 7 and isinstance(value[6], str) and value[6]:
        code = country_code(value[6])
        if code:
            return code
    if isinstance(params, dict) and isinstance(params.get("label"), str):
        lines = [x for x in re.split(r"\\n|\n", params["label"]) if x.strip()]
        if lines:
            return country_code(lines[-1])
    return None


def _remark_lines(remarks: Any) -> list[str]:
    lines: list[str] = []
    for remark in _list(remarks):
        if isinstance(remark, dict):
            for line in _list(remark.get("description")):
                if isinstance(line, str):
                    lines.append(line.replace("\r", ""))
    return lines


def _described(remarks: Any) -> str | None:
    for remark in _list(remarks):
        if isinstance(remark, dict) and _text(remark.get("title")).lower() == "description":
            for line in _list(remark.get("description")):
                if isinstance(line, str) and line.strip():
                    return line.strip()
    return None


def _walk(entities: list[_Entity]) -> Any:
    # Breadth first: shallower entities (the network's own) come before the
    # contacts of its holder organisation.
    queue = list(entities)
    while queue:
        ent = queue.pop(0)
        yield ent
        queue.extend(ent.children)


def _first(entities: list[_Entity], pred: Any) -> _Entity | None:
    best: _Entity | None = None
    for ent in entities:
        if pred(ent) and (best is None or ent.depth < best.depth):
            best = ent
    return best


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""
