"""Revivals and recurrences wait in the queue until a handler marks them reviewed."""

from __future__ import annotations

import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import close_old_connections
from django.test import Client

from takedown.cases.attention import Reason
from takedown.cases.models import Event, EventKind, Site, SiteState
from takedown.cases.services import (
    ActionError,
    event_record,
    site_mark_reviewed,
    site_reject,
    site_transition,
    sites_create_bulk,
)
from takedown.handler_queue import handler_items

pytestmark = pytest.mark.django_db


def _site(name: str, *, historical: bool = False) -> Site:
    url = f"http://{name}.example/login"
    return sites_create_bulk(
        [{"url": url, "host": f"{name}.example", "registered_domain": f"{name}.example"}],
        historical=historical,
    )[url]


def _revive(site: Site) -> Event:
    for state in (SiteState.LOCATED, SiteState.NOTIFIED, SiteState.DOWN, SiteState.CLOSED):
        site_transition(site, state)
    return site_transition(site, SiteState.REVIVED, kind=EventKind.SITE_REVIVED)


def _recurrence(new: Site, earlier: Site) -> None:
    """As the monitor records one: on both sites, naming the earlier one as ``of``."""
    data = {"of": earlier.pk, "by": "server", "site": new.pk}
    event_record(kind=EventKind.SITE_RECURRENCE, site=new, data=data)
    event_record(kind=EventKind.SITE_RECURRENCE, site=earlier, data=data)


def _review_items() -> set[tuple[str, int | None]]:
    return {
        (i.reason, i.site_id) for i in handler_items(reasons=[Reason.REVIVAL, Reason.RECURRENCE])
    }


def test_it_lists_a_revival_until_it_is_marked_reviewed() -> None:
    site = _site("back")
    _revive(site)
    assert _review_items() == {(Reason.REVIVAL, site.pk)}

    event = site_mark_reviewed(site=site, actor="alice", note="same kit, new notice sent")

    assert event.kind == EventKind.SITE_REVIEWED
    assert event.actor == "alice"
    assert event.data["kind"] == EventKind.SITE_REVIVED
    assert _review_items() == set()


def test_it_lists_a_second_revival_after_the_first_was_reviewed() -> None:
    site = _site("again")
    _revive(site)
    site_mark_reviewed(site=site, actor="alice")
    site_transition(site, SiteState.DOWN)
    site_transition(site, SiteState.REVIVED, kind=EventKind.SITE_REVIVED)
    assert _review_items() == {(Reason.REVIVAL, site.pk)}


def test_it_lists_a_recurrence_on_the_new_site_only() -> None:
    earlier, new = _site("first"), _site("second")
    _recurrence(new, earlier)
    assert _review_items() == {(Reason.RECURRENCE, new.pk)}
    site_mark_reviewed(site=new, actor="alice")
    assert _review_items() == set()


def test_it_counts_a_rejection_as_the_review() -> None:
    earlier, new = _site("kit"), _site("kit2")
    _recurrence(new, earlier)
    site_reject(site=new, actor="alice", reason="the bank's own test page")
    assert _review_items() == set()


def test_it_leaves_imported_history_out() -> None:
    old = _site("history", historical=True)
    _revive(old)
    assert _review_items() == set()
    with pytest.raises(ActionError):
        site_mark_reviewed(site=old, actor="alice")


def test_it_refuses_a_review_when_nothing_waits() -> None:
    site = _site("quiet")
    with pytest.raises(ActionError):
        site_mark_reviewed(site=site, actor="alice")
    _revive(site)
    site_mark_reviewed(site=site, actor="alice")
    with pytest.raises(ActionError):
        site_mark_reviewed(site=site, actor="bob")
    assert Event.objects.filter(kind=EventKind.SITE_REVIEWED).count() == 1


def test_it_lists_review_items_in_takedown_queue() -> None:
    revived, earlier, new = _site("cli1"), _site("cli2"), _site("cli3")
    _revive(revived)
    _recurrence(new, earlier)
    out = StringIO()

    call_command("queue", "--json", "--reason", "revival", "--reason", "recurrence", stdout=out)

    listed = json.loads(out.getvalue())
    assert listed["counts"] == {"revival": 1, "recurrence": 1}
    assert {(i["reason"], i["site_id"]) for i in listed["items"]} == {
        ("revival", revived.pk),
        ("recurrence", new.pk),
    }
    recurrence = next(i for i in listed["items"] if i["reason"] == "recurrence")
    assert recurrence["reason_label"] == "recurrence to review"


def test_it_marks_reviewed_from_the_queue_in_one_click(alice_client: Client) -> None:
    site = _site("click")
    _revive(site)
    page = alice_client.get("/").content.decode()
    assert 'value="review"' in page

    r = alice_client.post(f"/sites/{site.pk}/act", {"action": "review", "next": "/"})

    assert r.status_code == 302 and r["Location"] == "/"
    assert _review_items() == set()
    timeline = alice_client.get(f"/sites/{site.pk}/").content.decode()
    assert "alice reviewed the revival." in timeline
    assert 'value="review"' not in timeline


def test_it_returns_to_the_queue_page_it_was_clicked_on(alice_client: Client) -> None:
    site = _site("page")
    _revive(site)
    page = alice_client.get("/queue/?reason=revival").content.decode()
    assert 'name="next" value="/queue/?reason=revival"' in page

    r = alice_client.post(
        f"/sites/{site.pk}/act", {"action": "review", "next": "/queue/?reason=revival"}
    )

    assert r["Location"] == "/queue/?reason=revival"


def test_it_says_it_in_japanese(alice_client: Client) -> None:
    site = _site("nihongo")
    _revive(site)
    ja = {"Accept-Language": "ja"}
    queue = alice_client.get("/", headers=ja).content.decode()
    assert "確認が必要な復活" in queue and "確認済みにする" in queue
    page = alice_client.get(f"/sites/{site.pk}/", headers=ja).content.decode()
    assert "要確認" in page and "Mark reviewed" not in page

    alice_client.post(
        f"/sites/{site.pk}/act", {"action": "review", "text": "同じキット"}, headers=ja
    )

    timeline = alice_client.get(f"/sites/{site.pk}/", headers=ja).content.decode()
    assert "alice が復活を確認しました。 同じキット" in timeline

    again = alice_client.post(
        f"/sites/{site.pk}/act", {"action": "review"}, headers=ja, follow=True
    ).content.decode()
    assert f"サイト {site.pk} に確認待ちの復活・再発はありません" in again


def test_it_lets_a_viewer_see_but_not_mark(bob_client: Client) -> None:
    site = _site("viewer")
    _revive(site)
    assert 'value="review"' not in bob_client.get("/").content.decode()
    assert 'value="review"' not in bob_client.get(f"/sites/{site.pk}/").content.decode()

    r = bob_client.post(f"/sites/{site.pk}/act", {"action": "review"})

    assert r.status_code == 403
    assert _review_items() == {(Reason.REVIVAL, site.pk)}


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_it_records_one_review_when_handlers_click_at_once() -> None:
    site = _site("race")
    _revive(site)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def click(name: str) -> None:
        try:
            start.wait()
            site_mark_reviewed(site=Site.objects.get(pk=site.pk), actor=name)
            outcomes.append("done")
        except ActionError:
            outcomes.append("refused")
        except BaseException as exc:  # reported by the main thread
            outcomes.append(repr(exc))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=click, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert sorted(outcomes) == ["done"] + ["refused"] * 7
    assert Event.objects.filter(kind=EventKind.SITE_REVIEWED).count() == 1


def test_it_marks_reviewed_in_bulk(alice_client: Client) -> None:
    sites = [_site(f"bulk{i}") for i in range(3)]
    for site in sites:
        _revive(site)
    quiet = _site("bulkquiet")

    alice_client.post(
        "/sites/bulk",
        {"action": "review", "scope": "ticked", "site": [str(s.pk) for s in [*sites, quiet]]},
    )

    assert _review_items() == set()
    reviewed = Event.objects.filter(kind=EventKind.SITE_REVIEWED)
    assert sorted(reviewed.values_list("site_id", flat=True)) == [s.pk for s in sites]


def test_it_marks_reviewed_through_the_api(alice_token: str, bob_token: str) -> None:
    site = _site("api")
    _revive(site)
    path = f"/api/sites/{site.pk}/review"

    refused = Client().post(
        path, {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {bob_token}"
    )
    assert refused.status_code == 403

    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    r = client.post(path, {"note": "known kit"}, content_type="application/json")
    assert r.status_code == 200
    assert r.json()["kind"] == "site.reviewed"
    assert r.json()["actor"] == "api:alice"
    assert _review_items() == set()

    again = client.post(path, {}, content_type="application/json")
    assert again.status_code == 409
    assert "no revival or recurrence to review" in again.json()["detail"]
    missing = client.post("/api/sites/999999/review", {}, content_type="application/json")
    assert missing.status_code == 404
