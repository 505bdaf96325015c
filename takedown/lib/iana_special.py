"""IANA's Special-Purpose Address Registries (XML) -> ``takedown/lib/data/special-purpose.json``.

The address guard (:mod:`takedown.lib.guard`) reads the JSON this writes: one
entry per special-purpose block with IANA's name, RFCs and "Globally
Reachable" value.  Regenerate it when IANA updates either registry::

    .venv/bin/python -m takedown.lib.iana_special ../shared/data/iana

(the folder holds ``iana-ipv4-special-registry.xml`` and
``iana-ipv6-special-registry.xml`` as published at
https://www.iana.org/assignments/iana-ipv4-special-registry/ and
.../iana-ipv6-special-registry/).  Blocks IANA added after the copy in
``../shared`` was taken are listed in :data:`LATER_ADDITIONS` until a newer
XML carries them; entries already in the XML are not added twice.
"""

from __future__ import annotations

import ipaddress
import json
import sys

# IANA's own registry files, not hostile input.
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

NS = "{http://www.iana.org/assignments}"
FILES = {4: "iana-ipv4-special-registry.xml", 6: "iana-ipv6-special-registry.xml"}
OUTPUT = Path(__file__).resolve().parent / "data" / "special-purpose.json"

# Added to the IPv6 registry after the 2019-09-13 edition in ../shared (named in
# ../shared/README.md): both not globally reachable.
LATER_ADDITIONS: list[dict[str, Any]] = [
    {"prefix": "3fff::/20", "name": "Documentation", "rfc": "RFC 9637", "global": False},
    {
        "prefix": "5f00::/16",
        "name": "Segment Routing (SRv6) SIDs",
        "rfc": "RFC 9602",
        "global": False,
    },
]


def _text(elem: ET.Element | None) -> str:
    # Footnote references are child elements; only the element's own text counts.
    return " ".join((elem.text or "").split()) if elem is not None else ""


def _reachable(value: str) -> bool | None:
    """IANA writes True, False, N/A (Teredo, 6to4) or nothing (terminated blocks)."""
    return {"true": True, "false": False}.get(value.lower())


def read_registry(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """(updated date, blocks) of one registry file."""
    root = ET.parse(path).getroot()  # noqa: S314 - see the import
    updated = _text(root.find(f"{NS}updated"))
    blocks: list[dict[str, Any]] = []
    for record in root.iter(f"{NS}record"):
        rfcs = [
            "RFC " + x.get("data", "").removeprefix("rfc")
            for x in record.findall(f"{NS}spec/{NS}xref")
            if x.get("type") == "rfc"
        ]
        name = _text(record.find(f"{NS}name"))
        reachable = _reachable(_text(record.find(f"{NS}global")))
        for prefix in _text(record.find(f"{NS}address")).split(","):
            net = ipaddress.ip_network(prefix.strip())
            blocks.append(
                {"prefix": str(net), "name": name, "rfc": ", ".join(rfcs), "global": reachable}
            )
    return updated, blocks


def build(folder: Path) -> dict[str, Any]:
    """The JSON document for the two registries in ``folder``."""
    out: dict[str, Any] = {
        "description": (
            "Special-purpose address blocks from the IANA IPv4 and IPv6 Special-Purpose "
            "Address Registries; written by takedown/lib/iana_special.py, read by "
            "takedown/lib/guard.py. global: IANA's 'Globally Reachable' (null: N/A or "
            "a terminated block)."
        ),
    }
    blocks: list[dict[str, Any]] = []
    for version, name in FILES.items():
        updated, found = read_registry(folder / name)
        out[f"ipv{version}_updated"] = updated
        blocks.extend(found)
    known = {b["prefix"] for b in blocks}
    added = [dict(b) for b in LATER_ADDITIONS if b["prefix"] not in known]
    out["later_additions"] = [f"{b['prefix']} ({b['rfc']})" for b in added]
    out["blocks"] = blocks + added
    return out


def render(document: dict[str, Any]) -> str:
    """Compact and diffable: one block per line."""
    head = {k: v for k, v in document.items() if k != "blocks"}
    lines = [json.dumps(b, ensure_ascii=False) for b in document["blocks"]]
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return text + ',\n "blocks": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m takedown.lib.iana_special FOLDER_WITH_IANA_XML", file=sys.stderr)
        return 2
    try:
        document = build(Path(argv[0]))
    except (OSError, ET.ParseError, ValueError) as exc:
        print(f"{argv[0]}: {exc}", file=sys.stderr)
        return 1
    OUTPUT.write_text(render(document), encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(document['blocks'])} blocks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
