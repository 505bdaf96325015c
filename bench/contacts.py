"""Registry answers in ../shared: is the right abuse address the first one given?

Every real RDAP and WHOIS answer in ``../shared/data/rdap`` and
``../shared/data/whois`` is parsed, and its first abuse address compared with
the one read by hand (the expectations of ``takedown/locate/tests/
test_contacts_rdap.py`` and ``test_contacts_whois.py``; an answer with no abuse
address is right when none is given).  Printed per source: right-first for our
parser, for our parser at an earlier revision (``--before REV``, e.g. the commit
before issue 12), and for the peer, the ``ipwhois`` library (1.3, offline, the
same answers), read as its users read it: RDAP, the first e-mail of the first
entity with the ``abuse`` role; WHOIS (it has no abuse field), the first e-mail
with "abuse" in it across the networks it returns; it does not parse domain
WHOIS.  The last column counts answers in which a national registry's own
address (JPNIC's, KRNIC's hostmaster) is given as an abuse address.

    .venv/bin/python bench/contacts.py --before 7d0ce5c
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
NIR_DOMAINS = ("nic.ad.jp", "nic.or.kr", "kisa.or.kr", "twnic.net.tw", "cnnic.cn", "idnic.net")


def _module(name: str) -> ModuleType:
    path = REPO / "takedown" / "locate" / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases() -> list[dict[str, Any]]:
    """[{source, name, kind (rdap|whois), data, expected, ip}] for every answer in ../shared."""
    import yaml

    exp_rdap, exp_whois = _module("test_contacts_rdap"), _module("test_contacts_whois")
    out: list[dict[str, Any]] = []
    ipw = json.loads((SHARED / "rdap/ipwhois/rdap.json").read_text())
    for ip, item in ipw.items():
        out.append(
            {
                "source": "RDAP ipwhois rdap.json",
                "name": ip,
                "kind": "rdap",
                "data": item["response"],
                "asn_data": item.get("asn_data"),
                "expected": exp_rdap.IPWHOIS[ip][0],
                "ip": ip,
            }
        )
    out.append(
        {
            "source": "RDAP ipwhois entity.json",
            "name": "entity.json",
            "kind": "rdap",
            "data": json.loads((SHARED / "rdap/ipwhois/entity.json").read_text()),
            "expected": [],
        }
    )
    for name, expected in exp_rdap.WHOISIT.items():
        data = json.loads((SHARED / "rdap/whoisit" / name).read_text())
        out.append(
            {
                "source": "RDAP whoisit",
                "name": name,
                "kind": "rdap",
                "data": data,
                "expected": expected,
            }
        )
    for path in sorted((SHARED / "rdap/whoisit/recorded").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text())["responses"]:
            resp = item["response"]
            if "data.iana.org" in resp["url"]:
                continue
            out.append(
                {
                    "source": "RDAP whoisit recorded",
                    "name": resp["url"],
                    "kind": "rdap",
                    "data": json.loads(resp["body"]),
                    "expected": exp_rdap.RECORDED[resp["url"]],
                }
            )
    whois = json.loads((SHARED / "whois/ipwhois/whois.json").read_text())
    for ip, item in whois.items():
        out.append(
            {
                "source": "WHOIS ipwhois whois.json",
                "name": ip,
                "kind": "whois",
                "data": item["response"],
                "asn_data": item.get("asn_data"),
                "expected": exp_whois.IP_WHOIS[ip][0],
                "ip": ip,
            }
        )
    for name in ("jpnic.json", "krnic.json"):
        for key, item in json.loads((SHARED / "whois/ipwhois" / name).read_text()).items():
            # The gateways publish contacts, no abuse address (see the tests).
            out.append(
                {
                    "source": "WHOIS JPNIC/KRNIC gateway",
                    "name": f"{name} {key}",
                    "kind": "whois",
                    "data": item["response"],
                    "expected": [],
                }
            )
    for key, item in json.loads((SHARED / "rdap/ipwhois/asn.json").read_text()).items():
        out.append(
            {
                "source": "WHOIS RADB routes (asn.json)",
                "name": key,
                "kind": "whois",
                "data": item["response"],
                "expected": [],
            }
        )
    raw = SHARED / "whois/domains/raw"
    for path in sorted(raw.iterdir()):
        out.append(
            {
                "source": "WHOIS domains (66 raw)",
                "name": path.name,
                "kind": "whois-bytes",
                "data": path.read_bytes().decode("latin-1"),
                "expected": exp_whois.DOMAIN_ABUSE.get(path.name, []),
            }
        )
    return out


def ours(items: list[dict[str, Any]]) -> list[list[str]]:
    """Our parser (whichever ``takedown`` is importable) on every answer."""
    from takedown.locate.rdap import parse_rdap
    from takedown.locate.whois import decode_whois, parse_whois

    found = []
    for case in items:
        if case["kind"] == "rdap":
            rec = parse_rdap(case["data"])
        elif case["kind"] == "whois-bytes":
            rec = parse_whois(decode_whois(case["data"].encode("latin-1")))
        else:
            rec = parse_whois(case["data"])
        found.append(list(rec.abuse))
    return found


def peer(case: dict[str, Any]) -> list[str] | None:
    """ipwhois's reading, or None where it has none (domains, entity documents)."""
    from ipwhois.net import Net
    from ipwhois.rdap import RDAP
    from ipwhois.whois import Whois

    ip = case.get("ip")
    if ip is None:
        return None
    if case["kind"] == "rdap":
        res = RDAP(Net(ip)).lookup(
            response=case["data"], asn_data=case["asn_data"], depth=0, root_ent_check=False
        )
        for handle in res.get("entities") or []:
            obj = (res.get("objects") or {}).get(handle) or {}
            if "abuse" in (obj.get("roles") or []):
                emails = (obj.get("contact") or {}).get("email") or []
                return [e["value"].lower() for e in emails if e.get("value")][:1]
        return []
    res = Whois(Net(ip)).lookup(
        response=case["data"], asn_data=case["asn_data"], is_offline=True, get_recursive=False
    )
    emails = [e.lower() for net in res.get("nets") or [] for e in (net.get("emails") or [])]
    return [e for e in emails if "abuse" in e.split("@")[0]][:1]


def right_first(got: list[str], expected: list[str]) -> bool:
    return got[:1] == expected[:1]


def nir_given(got: list[str]) -> bool:
    return any(a.rsplit("@", 1)[-1].endswith(NIR_DOMAINS) for a in got)


def before(rev: str, count: int) -> list[list[str]]:
    """Our parser at ``rev``, run in a child process on the same answers."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "takedown"], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp}
        out = subprocess.run(
            [sys.executable, __file__, "--emit"], check=True, capture_output=True, env=env
        ).stdout
    found: list[list[str]] = json.loads(out)
    assert len(found) == count
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also measure our parser at REV")
    parser.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"skipped: {SHARED} is absent", file=sys.stderr)
        return 0
    items = cases()
    if args.emit:
        print(json.dumps(ours(items)))
        return 0
    after = ours(items)
    earlier = before(args.before, len(items)) if args.before else None
    try:
        peers: list[list[str] | None] = [peer(c) for c in items]
    except ImportError:
        peers = [None] * len(items)
        print("ipwhois is not installed (pip install ipwhois): no peer column")

    print(f"machine: {platform.platform()}, Python {platform.python_version()}")
    head = ["source", "answers"]
    head += [f"right first, before ({args.before})"] if earlier else []
    head += ["right first, now", "right first, ipwhois 1.3", "NIR address as abuse (before/now)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    sources = list(dict.fromkeys(c["source"] for c in items))
    for source in [*sources, "all"]:
        idx = [i for i, c in enumerate(items) if source in ("all", c["source"])]
        n = len(idx)
        now = sum(right_first(after[i], items[i]["expected"]) for i in idx)
        row = [source, str(n)]
        if earlier is not None:
            was = sum(right_first(earlier[i], items[i]["expected"]) for i in idx)
            row.append(f"{was}/{n}")
        row.append(f"{now}/{n}")
        judged = [i for i in idx if peers[i] is not None]
        hits = sum(right_first(peers[i] or [], items[i]["expected"]) for i in judged)
        row.append(f"{hits}/{len(judged)}" if judged else "-")
        nir_now = sum(nir_given(after[i]) for i in idx)
        nir_was = sum(nir_given(earlier[i]) for i in idx) if earlier is not None else "-"
        row.append(f"{nir_was}/{nir_now}")
        print("| " + " | ".join(row) + " |")
    for i, case in enumerate(items):
        if not right_first(after[i], case["expected"]):
            print(f"  wrong now: {case['source']} {case['name']}: {after[i][:2]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
