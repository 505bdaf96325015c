"""The handler queue as the dashboard shows it: items grouped by reason, with their objects.

The items come from the loop's selector (``takedown.handler_queue``); this
module only groups them, counts each group and loads the site, notice, mail
or reporter each item concerns in one query per kind, so the template can
offer the item's one-click actions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from takedown.cases.attention import Reason
from takedown.cases.models import Site

# Items shown per reason on the dashboard; the queue page shows them all.
QUEUE_SHOWN = 10


@dataclass
class Entry:
    item: Any
    site: Any = None
    notice: Any = None
    inbound: Any = None
    reporter: Any = None

    @property
    def review(self) -> bool:
        """A revival or recurrence: the entry offers "mark reviewed"."""
        return _value(self.item.reason) in {Reason.REVIVAL, Reason.RECURRENCE}


@dataclass
class Group:
    reason: str
    label: str
    count: int
    entries: list[Entry] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.entries)


def _items(include_historical: bool) -> list[Any]:
    try:
        from takedown.handler_queue import handler_items
    except ImportError:  # the loop's selector has not landed yet
        return []
    return list(handler_items(include_historical=include_historical))


def _value(reason: Any) -> str:
    return str(getattr(reason, "value", reason))


def _label(item: Any) -> str:
    """The reason in the reader's language (the item's ``reason_label``)."""
    label = getattr(item, "reason_label", None) or getattr(item.reason, "label", None)
    return str(label) if label is not None else _value(item.reason).replace("_", " ")


def queue_groups(
    *, reason: str = "", per_group: int = QUEUE_SHOWN, include_historical: bool = False
) -> list[Group]:
    from takedown.intake.models import Reporter
    from takedown.notices.models import InboundMessage, Notice

    by_reason: dict[str, list[Any]] = defaultdict(list)
    labels: dict[str, str] = {}
    for item in _items(include_historical):
        key = _value(item.reason)
        if reason and key != reason:
            continue
        by_reason[key].append(item)
        labels[key] = _label(item)
    shown = {key: items[:per_group] for key, items in by_reason.items()}
    every = [i for items in shown.values() for i in items]

    def load(model: Any, attr: str, **related: Any) -> dict[int, Any]:
        ids = {getattr(i, attr) for i in every if getattr(i, attr, None)}
        qs = model.objects.filter(pk__in=ids)
        if related.get("select"):
            qs = qs.select_related(*related["select"])
        if related.get("defer"):
            qs = qs.defer(*related["defer"])
        return {obj.pk: obj for obj in qs}

    sites = load(Site, "site_id", select=["organization", "assignee"])
    notices = load(Notice, "notice_id", select=["organization", "reporter"])
    inbound = load(InboundMessage, "inbound_id", defer=["raw"])
    reporters = load(Reporter, "reporter_id")
    groups = [
        Group(
            reason=key,
            label=labels[key],
            count=len(by_reason[key]),
            entries=[
                Entry(
                    item=i,
                    site=sites.get(getattr(i, "site_id", None) or 0),
                    notice=notices.get(getattr(i, "notice_id", None) or 0),
                    inbound=inbound.get(getattr(i, "inbound_id", None) or 0),
                    reporter=reporters.get(getattr(i, "reporter_id", None) or 0),
                )
                for i in items
            ],
        )
        for key, items in shown.items()
    ]
    return sorted(groups, key=lambda g: -g.count)
