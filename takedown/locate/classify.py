"""The seed's administrator types, decided by explicit rules from registry data.

JPCERT/CC's statistics count IP address administrators as domestic ISP/xSP,
domestic company, domestic school, overseas organisation and other.  The rules,
in order (the first that matches decides; each returns its reason so a handler
sees why, and a handler's choice on the organisation overrides all of them):

1. no country in the registry data -> ``other``;
2. a country other than ``settings.HOME_COUNTRY`` -> ``overseas``;
3. a school: the registry's organisation type says so (JPRS "University"), the
   name says so (university, college, school, institute of technology, 大学,
   学校, 学園, 高専, 学院), or its addresses are under ``.ac.jp`` / ``.ed.jp``;
4. an ISP or hosting provider (xSP): a known ISP/hosting AS number
   (``KNOWN_ISP_ASNS`` plus ``settings.ISP_ASNS``), an ISP-like name (Internet,
   Net, Network, Telecom, Communications, Hosting, Cloud, Data Center,
   インターネット, ネットワーク, 通信, ホスティング, サーバ...), or addresses
   under ``.ne.jp`` / ``.ad.jp`` (the second-level domains for network services);
5. a company: 株式会社/有限会社/合同会社/(株), Co., Ltd., Corporation, Inc.,
   K.K., LLC, GmbH..., a registry organisation type "Corporation", or
   addresses under ``.co.jp``;
6. anything else (government ``.go.jp``, associations ``.or.jp``...) -> ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings

# Japanese ISPs and hosting providers by origin AS (public registry data).
KNOWN_ISP_ASNS: dict[int, str] = {
    2497: "Internet Initiative Japan",
    2516: "KDDI",
    2518: "BIGLOBE",
    2527: "Sony Network Communications (So-net)",
    4685: "Asahi Net",
    4694: "IDC Frontier",
    4713: "NTT Communications (OCN)",
    4725: "SoftBank (ODN)",
    7506: "GMO Internet",
    7679: "QTNet",
    9370: "SAKURA Internet",
    9371: "SAKURA Internet",
    9605: "NTT DOCOMO",
    10013: "FreeBit",
    17506: "ARTERIA Networks",
    17511: "OPTAGE",
    17676: "SoftBank",
    18126: "Chubu Telecommunications",
}

_SCHOOL = re.compile(
    r"(\buniv(ersity|ersities|\.)|\bcollege\b|\bschool\b|\binstitute of technology\b|"
    r"\bacademy\b|\bgakuen\b|\bdaigaku\b|大学|学校|学園|高専|高等専門学校|学院|教育委員会)",
    re.IGNORECASE,
)
_ISP = re.compile(
    r"(\bISP\b|\binternet\b|\bnet\b|\bnetworks?\b|\btelecom(munications?)?\b|"
    r"\bcommunications?\b|\bbroadband\b|\bhosting\b|\bservers?\b|\bcloud\b|"
    r"\bdata ?cent(er|re)s?\b|\bIDC\b|\bonline\b|\bweb ?services\b|\bprovider\b|"
    r"\bcable\b|\btelephone\b|\bmobile\b|\bxSP\b|"
    r"インターネット|ネットワーク|通信|ホスティング|サーバ|クラウド|データセンター|"
    r"プロバイダ|テレコム|ケーブル|電話)",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"(株式会社|有限会社|合同会社|合資会社|\(株\)|（株）|㈱|\bco\.?,? ?ltd\b|"
    r"\bcorporation\b|\bcorp\b\.?|\binc\b\.?|\bk\.k\.|\bkabushiki kaisha\b|\blimited\b|"
    r"\bltd\b\.?|\bllc\b|\bgmbh\b|\bs\.a\.|\bcompany\b|\bholdings\b)",
    re.IGNORECASE,
)


def classify(
    *,
    name: str | None,
    country: str | None,
    name_local: str | None = None,
    asn: int | None = None,
    emails: Iterable[str] = (),
    org_type: str | None = None,
) -> tuple[str, str]:
    """``(kind, reason)``; kind is an ``OrgKind`` value."""
    home = settings.HOME_COUNTRY.upper()
    if not country:
        return "other", "the registry gives no country"
    if country.upper() != home:
        return "overseas", f"country {country.upper()} is not {home}"
    names = " / ".join(n for n in (name, name_local) if n)
    domains = [e.rsplit("@", 1)[-1].lower() for e in emails if "@" in e]
    org_type_l = (org_type or "").lower()

    if org_type_l in ("university", "school", "大学", "学校", "教育機関"):
        return "school", f"registry organisation type {org_type}"
    if _SCHOOL.search(names):
        return "school", "the name is a school's"
    school_domain = next((d for d in domains if d.endswith((".ac.jp", ".ed.jp"))), None)
    if school_domain:
        return "school", f"addresses under {school_domain}"

    isp_asns = {**KNOWN_ISP_ASNS, **{int(a): "" for a in settings.ISP_ASNS}}
    if asn is not None and asn in isp_asns:
        return "isp", f"AS{asn} is a known ISP/hosting network"
    if _ISP.search(names):
        return "isp", "the name is an ISP's or hosting provider's"
    isp_domain = next((d for d in domains if d.endswith((".ne.jp", ".ad.jp"))), None)
    if isp_domain:
        return "isp", f"addresses under {isp_domain}"

    if org_type_l in ("corporation", "company", "会社", "株式会社"):
        return "company", f"registry organisation type {org_type}"
    if _COMPANY.search(names):
        return "company", "the name is a company's"
    company_domain = next((d for d in domains if d.endswith(".co.jp")), None)
    if company_domain:
        return "company", f"addresses under {company_domain}"
    return "other", "no rule matched"
