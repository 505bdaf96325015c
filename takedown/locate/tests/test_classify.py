"""The administrator types of the seed's statistics, rule by rule."""

from __future__ import annotations

import pytest

from takedown.locate.classify import classify


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"name": "Example Net", "country": None}, "other"),
        ({"name": "Example Net", "country": ""}, "other"),
        ({"name": "Google LLC", "country": "US"}, "overseas"),
        ({"name": "Osaka University", "country": "DE"}, "overseas"),
        ({"name": "Osaka University", "country": "JP"}, "school"),
        ({"name": "X", "name_local": "例示大学", "country": "JP"}, "school"),
        ({"name": "Example Gakuen", "country": "jp"}, "school"),
        ({"name": "X", "country": "JP", "emails": ["abuse@cc.x.ac.jp"]}, "school"),
        ({"name": "X", "country": "JP", "emails": ["noc@city.ed.jp"]}, "school"),
        (
            {"name": "Institute of Science Tokyo", "country": "JP", "org_type": "University"},
            "school",
        ),
        # a university network named like an ISP is still a school
        ({"name": "Example University Network", "country": "JP"}, "school"),
        ({"name": "Internet Initiative Japan Inc.", "country": "JP"}, "isp"),
        ({"name": "Example Net A", "country": "JP"}, "isp"),
        ({"name": "Example Hosting B", "country": "JP"}, "isp"),
        ({"name": "X", "name_local": "例示ネットワーク株式会社", "country": "JP"}, "isp"),
        ({"name": "Anything", "country": "JP", "asn": 2497}, "isp"),
        ({"name": "X", "country": "JP", "emails": ["abuse@example.ne.jp"]}, "isp"),
        ({"name": "X", "country": "JP", "emails": ["hostmaster@example.ad.jp"]}, "isp"),
        ({"name": "Example Trading Corp C", "country": "JP"}, "company"),
        ({"name": "X", "name_local": "例示商事株式会社", "country": "JP"}, "company"),
        ({"name": "Example Bank, Ltd.", "country": "JP"}, "company"),
        ({"name": "Toyota K.K.", "country": "JP"}, "company"),
        ({"name": "X", "country": "JP", "emails": ["abuse@example.co.jp"]}, "company"),
        ({"name": "LY Corporation", "country": "JP", "org_type": "Corporation"}, "company"),
        ({"name": "Ministry of Examples", "country": "JP", "emails": ["x@y.go.jp"]}, "other"),
        ({"name": "Japan Example Association", "country": "JP"}, "other"),
    ],
)
def test_it_classifies(kwargs: dict[str, object], kind: str) -> None:
    assert classify(**kwargs)[0] == kind  # type: ignore[arg-type]


def test_it_says_why() -> None:
    assert classify(name="Google LLC", country="US") == ("overseas", "country US is not JP")
    assert "AS2497" in classify(name="X", country="JP", asn=2497)[1]


def test_it_follows_the_configured_home_country(settings: object) -> None:
    settings.HOME_COUNTRY = "DE"  # type: ignore[attr-defined]
    assert classify(name="Example Host F GmbH", country="DE")[0] == "company"
    assert classify(name="Example Net A", country="JP")[0] == "overseas"


def test_it_knows_configured_isp_asns(settings: object) -> None:
    settings.ISP_ASNS = [64501]  # type: ignore[attr-defined]
    assert classify(name="Plain Name", country="JP", asn=64501)[0] == "isp"
