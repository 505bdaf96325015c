"""Reads of sites and incidents that several pages, the API and the CLI share.

``handler_items``: the sites the automation gave up on (the handlers' queue).

Finding sites: the search behind the sites page, the bulk actions and ``GET /api/sites``.

One query box understands what a handler pastes (``site_filter_parse``):

- a URL, defanged (``hxxps://login[.]bank[.]example/``) or wrapped by a mail
  gateway (Safe Links, Proofpoint), as copied from a ticket or from this UI:
  refanged and normalised by intake's own extraction, then matched exactly
  (or, for a URL with no path, as every site on that host);
- an IP address or a prefix (``192.0.2.7``, ``192.0.2.0/24``, IPv6 too);
- an AS number (``AS64500``);
- a host name or registered domain (``bank-a[.]example`` works too);
- anything else: a brand, an organisation, a reporter, or part of a URL.

Each criterion also has its own parameter (``host``, ``ip``, ``asn``,
``brand``, ``org``, ``reporter``, ``state``, ``from``/``to``...), and
imported history (``Site.historical``) is left out unless asked for.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from takedown.cases.attention import HandlerItem, Reason
from takedown.cases.models import Event, EventKind, Site, SiteState, Step, Work
from takedown.lib.ids import parse_id

# Events that ask a handler to look at a site (a revival, a recurrence on a
# known server), and the handler's decisions that answer them: marking it
# reviewed, or rejecting or reopening the site, which needs a look too.
REVIEW_ASKED = (EventKind.SITE_REVIVED, EventKind.SITE_RECURRENCE)
REVIEW_DONE = (EventKind.SITE_REVIEWED, EventKind.SITE_REJECTED, EventKind.SITE_REOPENED)


def _reviews_pending(sites: QuerySet[Site] | None = None) -> list[Event]:
    """The latest revival or recurrence of each site that no handler decision followed.

    Order of writing (the event id) decides "newer", not ``at``: a check
    observed before a review but recorded after it still asks for a look.  A
    recurrence is recorded on both sites; only the new one (whose event names
    the other as ``of``) waits for a review.
    """
    answered = Event.objects.filter(
        site_id=OuterRef("site_id"), kind__in=REVIEW_DONE, pk__gt=OuterRef("pk")
    )
    asked = Event.objects.filter(kind__in=REVIEW_ASKED, site__historical=False)
    if sites is not None:
        asked = asked.filter(site__in=sites)
    latest: dict[int, Event] = {}
    fields = ("pk", "site_id", "kind", "at", "data", "message")
    for event in asked.exclude(Exists(answered)).only(*fields):
        data = event.data if isinstance(event.data, dict) else {}
        if event.kind == EventKind.SITE_RECURRENCE and data.get("of") == event.site_id:
            continue
        assert event.site_id is not None
        if event.site_id not in latest or latest[event.site_id].pk < event.pk:
            latest[event.site_id] = event
    return sorted(latest.values(), key=lambda e: e.pk)


def site_review_pending(*, site: Site) -> Event | None:
    """The revival or recurrence of ``site`` still to review, if any."""
    pending = _reviews_pending(Site.objects.filter(pk=site.pk))
    return pending[-1] if pending else None


def handler_items(now: datetime) -> list[HandlerItem]:
    """What the loop's own steps gave up on, and what they ask a handler to look at.

    1. Unresolvable: no address was found for the host, and the locate step
       has no retry left (its last ``Work`` row is gone).
    2. Step failed: a step raised ``WORK_MAX_ATTEMPTS`` times; its ``Work``
       row stays, with no due time, until a handler retries or resolves it.
    3. Revival, recurrence: a closed site came back, or a new site sits on a
       server, address or network that had one before; the item stays until
       a handler marks it reviewed (``site_mark_reviewed``), rejects or
       reopens the site.
    """
    located_again = Work.objects.filter(step=Step.LOCATE, site__isnull=False).values("site_id")
    items = [
        HandlerItem(reason=Reason.UNRESOLVABLE, since=changed, site_id=pk, detail=host)
        for pk, changed, host in Site.objects.filter(state=SiteState.UNRESOLVABLE)
        .exclude(pk__in=located_again)
        .values_list("pk", "state_changed", "host")
    ]
    for work in Work.objects.filter(due__isnull=True).only(
        "step", "site_id", "report_id", "updated", "attempts", "last_error"
    ):
        items.append(
            HandlerItem(
                reason=Reason.STEP_FAILED,
                since=work.updated,
                site_id=work.site_id,
                report_id=work.report_id,
                detail=f"{work.step} failed {work.attempts} times: {work.last_error}"[:300],
            )
        )
    for event in _reviews_pending():
        revival = event.kind == EventKind.SITE_REVIVED
        items.append(
            HandlerItem(
                reason=Reason.REVIVAL if revival else Reason.RECURRENCE,
                since=event.at,
                site_id=event.site_id,
                # What the monitor said: "same ip as site 3", "up again: same content".
                detail=event.message[:300],
            )
        )
    return items


PER_PAGE = 50
MAX_PER_PAGE = 1000
_ASN = re.compile(r"^(?:AS|ASN)?\s*(\d{1,10})$", re.IGNORECASE)
_HOSTLIKE = re.compile(r"^[\w\-.\[\]()\{\}。．]+$")
_URLISH = re.compile(r"(://|\[:\]|^h[tx*]{1,2}ps?\b|^www[.\[(])", re.IGNORECASE)


class BadFilter(ValueError):
    """A search parameter cannot be understood; the message names it (HTTP 400)."""


@dataclass(frozen=True)
class SiteFilter:
    """What to look for; empty fields do not narrow the search."""

    q: str = ""
    url: str = ""
    host: str = ""
    registered_domain: str = ""
    ip: str = ""
    asn: int | None = None
    brand: str = ""
    organization: str = ""
    reporter: str = ""
    states: tuple[str, ...] = ()
    reported_from: date | None = None
    reported_to: date | None = None
    assignee: str = ""
    incident: int | None = None
    include_historical: bool = False
    # What the free text was understood as (shown to the handler).
    understood: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_empty(self) -> bool:
        return all(
            getattr(self, f.name) in ("", None, (), False)
            for f in fields(self)
            if f.name not in {"understood"}
        )

    def as_params(self) -> dict[str, str | list[str]]:
        """The filter as query parameters (for links to the next page, the API...)."""
        out: dict[str, str | list[str]] = {}
        for name, param in PARAMS.items():
            value = getattr(self, name)
            if value in ("", None, (), False):
                continue
            if isinstance(value, tuple):
                out[param] = list(value)
            elif isinstance(value, bool):
                out[param] = "1"
            else:
                out[param] = str(value)
        return out


# Field -> query parameter name.
PARAMS = {
    "q": "q",
    "url": "url",
    "host": "host",
    "registered_domain": "domain",
    "ip": "ip",
    "asn": "asn",
    "brand": "brand",
    "organization": "org",
    "reporter": "reporter",
    "states": "state",
    "reported_from": "from",
    "reported_to": "to",
    "assignee": "assignee",
    "incident": "incident",
    "include_historical": "historical",
}


def _text(params: Mapping[str, Any], name: str, limit: int = 2048) -> str:
    value = params.get(name, "")
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if "\x00" in value:
        raise BadFilter(f"{name}: contains a NUL character")
    if len(value) > limit:
        raise BadFilter(f"{name}: longer than {limit} characters")
    return value


def _list(params: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    raw = getlist(name) if getlist is not None else params.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    out: list[str] = []
    for item in raw or []:
        out.extend(p.strip() for p in str(item).split(",") if p.strip())
    return out


def _date(params: Mapping[str, Any], name: str) -> date | None:
    value = _text(params, name, 40)
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _int(params: Mapping[str, Any], name: str) -> int | None:
    value = _text(params, name, 20)
    if not value:
        return None
    match = _ASN.match(value) if name == "asn" else re.match(r"^\d{1,18}$", value)
    if not match:
        raise BadFilter(f"{name}: {value!r} is not a number")
    return int(match.group(1) if name == "asn" else match.group(0))


def _bool(params: Mapping[str, Any], name: str) -> bool:
    return _text(params, name, 10).lower() in {"1", "true", "yes", "on"}


def _prefix(value: str, name: str = "ip") -> str:
    try:
        if "/" in value:
            return str(ipaddress.ip_network(value, strict=False))
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not an IP address or prefix") from None


def site_filter_parse(params: Mapping[str, Any]) -> SiteFilter:
    """A ``SiteFilter`` from query parameters (a QueryDict or a plain dict).

    Raises ``BadFilter`` for a value that cannot mean anything (a bad date,
    IP or state), so the web page and the API answer 400 rather than
    silently showing everything.
    """
    states = _list(params, "state")
    unknown = [s for s in states if s not in SiteState.values]
    if unknown:
        raise BadFilter(
            f"state: unknown {', '.join(unknown[:3])} (one of {', '.join(SiteState.values)})"
        )
    ip = _text(params, "ip", 100)
    flt = SiteFilter(
        url=_text(params, "url"),
        host=_text(params, "host", 255),
        registered_domain=_text(params, "domain", 255),
        ip=_prefix(ip) if ip else "",
        asn=_int(params, "asn"),
        brand=_text(params, "brand", 200),
        organization=_text(params, "org", 300),
        reporter=_text(params, "reporter", 254),
        states=tuple(dict.fromkeys(states)),
        reported_from=_date(params, "from"),
        reported_to=_date(params, "to"),
        assignee=_text(params, "assignee", 150),
        incident=_int(params, "incident"),
        include_historical=_bool(params, "historical"),
    )
    if flt.reported_from and flt.reported_to and flt.reported_from > flt.reported_to:
        raise BadFilter("from: after to")
    return _understand(flt, _text(params, "q"))


def _refang_host(text: str) -> str:
    """``bank-a[.]example`` -> ``bank-a.example``, through intake's normaliser."""
    from takedown.intake.extract import InvalidURL, normalise_url

    try:
        return normalise_url(f"http://{text}/").host
    except InvalidURL:
        return ""


def _understand(flt: SiteFilter, q: str) -> SiteFilter:
    """Turn the free-text ``q`` into the criterion it most likely means."""
    if not q:
        return flt
    from takedown.intake.extract import InvalidURL, extract_urls, normalise_url

    token = q.split()[0] if len(q.split()) == 1 else ""
    # 1. An IP address or prefix.
    if token:
        try:
            return replace(flt, q=q, ip=_prefix(token), understood=("ip",))
        except BadFilter:
            pass
    # 2. An AS number.
    if token and _ASN.match(token) and token[:2].upper() == "AS":
        return replace(flt, q=q, asn=int(_ASN.match(token).group(1)), understood=("asn",))  # type: ignore[union-attr]
    # 3. A URL, as pasted (defanged, wrapped, with surrounding prose).
    if _URLISH.search(q):
        found = []
        try:
            found = [normalise_url(token)] if token else []
        except InvalidURL:
            found = []
        if not found:
            found = extract_urls(q)[:1]
        if found:
            return replace(flt, q=q, url=found[0].url, understood=("url",))
    # 4. A host name or registered domain.
    if token and _HOSTLIKE.match(token) and re.search(r"[.\[(\{。．]", token):
        host = _refang_host(token)
        if host:
            return replace(flt, q=q, host=host, understood=("host",))
    # 5. Words: a brand, organisation, reporter or part of a URL.
    return replace(flt, q=q, understood=("text",))


def _ip_query(prefix: str) -> Q:
    """Sites at an address (now, or at any earlier location) or inside a prefix."""
    from takedown.locate.models import Location

    net = ipaddress.ip_network(prefix, strict=False) if "/" in prefix else None
    if net is None or net.num_addresses == 1:
        address = prefix if net is None else str(net.network_address)
        return Q(ip=address) | Q(pk__in=Location.objects.filter(ip=address).values("site_id"))
    if net.prefixlen == 0:
        return ~Q(ip=None)
    if net.version == 4 and net.prefixlen % 8 == 0:
        # Octet-aligned: a string prefix matches it, using the index.
        octets = str(net.network_address).split(".")[: net.prefixlen // 8]
        return Q(ip__startswith=".".join(octets) + ".")
    # Any other prefix: the few distinct addresses located are tested here.
    candidates = set(Site.objects.exclude(ip=None).values_list("ip", flat=True).distinct())
    candidates |= set(Location.objects.exclude(ip=None).values_list("ip", flat=True).distinct())
    inside = [a for a in candidates if a and _in(a, net)]
    return Q(ip__in=inside) | Q(pk__in=Location.objects.filter(ip__in=inside).values("site_id"))


def _in(address: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(address) in net
    except ValueError:
        return False


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def site_search(*, filters: SiteFilter) -> QuerySet[Site]:
    """The sites matching ``filters``, newest report first."""
    qs = Site.objects.all()
    if not filters.include_historical:
        qs = qs.filter(historical=False)
    if filters.url:
        url = filters.url
        # A URL with no path ("http://host/") stands for every site on that host.
        if re.match(r"^https?://[^/]+/$", url):
            host = url.split("/")[2].split(":")[0].strip("[]")
            qs = qs.filter(Q(url=url) | Q(host=host))
        else:
            qs = qs.filter(url=url)
    if filters.host:
        host = filters.host.lower()
        qs = qs.filter(Q(host=host) | Q(registered_domain=host) | Q(host__endswith="." + host))
    if filters.registered_domain:
        qs = qs.filter(registered_domain=filters.registered_domain.lower())
    if filters.ip:
        qs = qs.filter(_ip_query(filters.ip))
    if filters.asn is not None:
        from takedown.locate.models import Location

        qs = qs.filter(
            Q(pk__in=Location.objects.filter(asn=filters.asn).values("site_id"))
            | Q(organization__asn=filters.asn)
        )
    if filters.brand:
        qs = qs.filter(brand__icontains=filters.brand)
    if filters.organization:
        org = filters.organization
        org_id = parse_id(org)
        qs = qs.filter(
            Q(organization_id=org_id)
            if org_id is not None
            else Q(organization__name__icontains=org) | Q(organization__name_local__icontains=org)
        )
    if filters.reporter:
        rep = filters.reporter
        rep_id = parse_id(rep)
        qs = qs.filter(
            pk__in=Site.objects.filter(
                Q(reports__reporter_id=rep_id)
                if rep_id is not None
                else Q(reports__reporter__name__icontains=rep)
                | Q(reports__reporter__email__iexact=rep)
            ).values("pk")
        )
    if filters.states:
        qs = qs.filter(state__in=filters.states)
    # The first and last days a date can name bound nothing (and the day
    # after the last one does not exist).
    if filters.reported_from and filters.reported_from > date.min:
        qs = qs.filter(first_reported__gte=_day_start(filters.reported_from))
    if filters.reported_to and filters.reported_to < date.max:
        qs = qs.filter(first_reported__lt=_day_start(filters.reported_to + timedelta(days=1)))
    if filters.assignee:
        qs = (
            qs.filter(assignee=None)
            if filters.assignee == "-"
            else qs.filter(assignee__username=filters.assignee)
        )
    if filters.incident is not None:
        qs = qs.filter(incidents__id=filters.incident)
    if filters.understood == ("text",):
        words = filters.q
        qs = qs.filter(
            Q(brand__icontains=words)
            | Q(url__icontains=words)
            | Q(organization__name__icontains=words)
            | Q(organization__name_local__icontains=words)
            | Q(
                pk__in=Site.objects.filter(
                    Q(reports__reporter__name__icontains=words)
                    | Q(reports__reporter__email__iexact=words)
                ).values("pk")
            )
        )
    return qs.order_by("-first_reported", "-id")


@dataclass
class SitePage:
    """One page of a search: the sites, the total and where we are."""

    sites: list[Site]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def page_numbers(self) -> list[int | None]:
        """Page links to show: the first, the last and a few around this one."""
        shown = sorted(
            {1, self.pages, *range(max(1, self.page - 2), min(self.pages, self.page + 2) + 1)}
        )
        out: list[int | None] = []
        for n in shown:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def site_search_page(*, filters: SiteFilter, page: int = 1, per_page: int = PER_PAGE) -> SitePage:
    """A page of ``site_search`` with the total count (page numbers start at 1)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    qs = site_search(filters=filters).select_related("organization", "assignee")
    paginator = Paginator(qs, per_page)
    number = max(1, min(page, paginator.num_pages))
    current = paginator.page(number)
    return SitePage(
        sites=list(current.object_list),
        total=paginator.count,
        page=number,
        pages=paginator.num_pages,
        per_page=per_page,
    )


def site_counts_by_state(*, include_historical: bool = False) -> dict[str, int]:
    """How many sites are in each state (imported history left out by default)."""
    from django.db.models import Count

    qs = Site.objects.all()
    if not include_historical:
        qs = qs.filter(historical=False)
    counts = dict(qs.values_list("state").annotate(n=Count("id")).order_by())
    return {state: counts.get(state, 0) for state in SiteState.values}
