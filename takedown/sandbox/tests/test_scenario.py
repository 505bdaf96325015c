from __future__ import annotations

from pathlib import Path

import pytest

from takedown.sandbox.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    registered_domain,
)
from takedown.sandbox.testing import SEED_SCENARIO
from takedown.sandbox.tests.small import SMALL


def test_it_loads_the_seed_cases() -> None:
    sc = load_scenario(SEED_SCENARIO)
    assert sc.name == "seed-cases"
    assert sc.duration < 60
    assert {o.registry for o in sc.organizations} == {
        "arin",
        "ripe",
        "apnic",
        "jpnic",
        "lacnic",
        "afrinic",
    }
    assert any(not o.rdap for o in sc.organizations)
    assert any(o.behavior.bounce for o in sc.organizations)
    assert any(o.behavior.auto_reply for o in sc.organizations)
    # case 5: 11 then 6 sites, across five countries
    bulk = [s for s in sc.sites if s.id.startswith("b")]
    assert len(bulk) == 17
    assert len({sc.org_for_site(s).country for s in bulk}) == 5
    assert sum(1 for s in bulk[:11] if s.up) == 5
    assert sum(1 for s in bulk[11:] if s.up) == 3


def test_it_derives_defaults() -> None:
    sc = parse_scenario(SMALL)
    org = sc.org("jp-isp")
    assert org.domain == "jp-isp.example"
    assert org.addresses == (
        "abuse@jp-isp.example",
        "noc@jp-isp.example",
        "hostmaster@jp-isp.example",
    )
    assert sc.site("jp1").registered_domain == "bank.example"
    assert sc.site("jp1").registrar == "example-registrar"
    assert sc.site("kr1").registered_domain == ""
    holder = sc.org_for_ip("127.13.9.9")
    assert holder is not None and holder.id == "de-host"
    assert sc.org_for_ip("127.99.0.1") is None


def test_it_knows_second_level_registrations() -> None:
    assert registered_domain("a.b.example.co.jp") == "example.co.jp"
    assert registered_domain("login.bank-a.example") == "bank-a.example"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("reply: always", "reply: often"), "behavior.reply: must be one of always, sometimes"),
        (("networks: [127.12.0.0/16]", "networks: [10.0.0.0/8]"), "outside 127.0.0.0/8"),
        (("ip: 127.12.0.1", "ip: 127.99.0.1"), "127.99.0.1 is in no organisation's networks"),
        (("trap: slow", "trap: sluggish"), "trap: must be one of slow"),
        (("kind: isp", "kind: isp\n    colour: red"), "colour: unknown field"),
        (("asn: 65002", "asn: 65001"), "appears more than once"),
        (("- at: 0", "- at: 99"), "after the scenario's duration"),
        (("http://pay.shop.example/", "http://pay.shop.example:8080/"), "names a port"),
    ],
)
def test_it_names_the_bad_field(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in SMALL
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(SMALL.replace(old, new, 1))
    assert message in str(exc.value)


def test_it_reports_yaml_errors_with_the_line() -> None:
    with pytest.raises(ScenarioError, match=r"not valid YAML \(line 2"):
        parse_scenario("name: x\nsites: [a, : b\n  c: d\n", source="x.yaml")


def test_it_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")


def test_it_rejects_a_non_mapping() -> None:
    with pytest.raises(ScenarioError, match="scenario: must be a mapping"):
        parse_scenario("- 1\n- 2\n")


def test_it_loads_every_shipped_scenario() -> None:
    for path in sorted((SEED_SCENARIO.parent).glob("*.yaml")):
        assert load_scenario(path).sites, path
