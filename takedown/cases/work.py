"""Work of the loop, found from the database: scheduling, claiming, finishing.

A ``Work`` row says "this step is due for this site (or report) at this
time".  It is written in the same transaction as the state change that calls
for the step (``site_transition`` writes it for the states in
``STEP_ON_ENTRY``), so a crash, a lost message or a restart can only delay the
step, never lose it.  ``takedown.loop`` claims due rows and runs the step that
each names; docs/architecture.md has the whole picture and docs/decisions.md
the reasons.

The life of a row:

1. ``work_schedule``: inserted due now (or at a retry time); scheduling what
   is already scheduled moves the due time earlier, never later, and revives
   a row that had been given up (a new decision deserves new attempts).
2. ``work_claim``: a conditional UPDATE moves due rows to a lease time and
   stamps them with a token unique to this claim (``FOR UPDATE SKIP LOCKED``
   on PostgreSQL, so concurrent workers pass over each other's rows; SQLite's
   IMMEDIATE transactions serialise the claim).  The attempt is counted here,
   so a step that kills its process each time still runs out of attempts.
3. ``work_extend``: a worker renews the lease of what it holds while it works;
   when the process dies the lease runs out and the row is due again.
4. ``work_finish`` deletes the row, or, when the step was scheduled again
   while it ran (``again``), makes it due at that time.  ``work_fail`` records
   the error and retries with exponential backoff; after ``WORK_MAX_ATTEMPTS``
   the row stays with ``due`` empty: a handler item (``Reason.STEP_FAILED``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from takedown.cases.models import Step, Work

ERROR_LIMIT = 2000


def _target(step: str) -> str:
    """The Work field that names what ``step`` works on."""
    return "report_id" if step == Step.ACK else "site_id"


def work_schedule(
    *, step: str, ids: Iterable[int], due: datetime | None = None, new: bool = False
) -> int:
    """Make ``step`` due for each object in ``ids`` at ``due`` (now by default).

    Call it inside the transaction that makes the step necessary.  ``new``
    says the objects were created in this transaction, so no row can exist
    for them yet and a plain bulk INSERT does.  Returns the rows inserted.
    """
    targets = list(dict.fromkeys(ids))
    if not targets:
        return 0
    now = timezone.now()
    due = due or now
    field = _target(step)
    with transaction.atomic():
        existing: set[int] = set()
        if not new:
            rows = Work.objects.filter(step=step, **{f"{field}__in": targets})
            existing = set(rows.values_list(field, flat=True))
            if existing:
                # Idle rows: due earlier if asked; a row given up is tried afresh.
                rows.filter(claim="", due__gt=due).update(due=due, updated=now)
                rows.filter(claim="", due__isnull=True).update(due=due, attempts=0, updated=now)
                # Rows a worker is running: once it finishes, run again.
                rows.exclude(claim="").filter(Q(again__isnull=True) | Q(again__gt=due)).update(
                    again=due, updated=now
                )
        missing = [pk for pk in targets if pk not in existing]
        Work.objects.bulk_create(
            [Work(step=step, due=due, created=now, updated=now, **{field: pk}) for pk in missing],
            batch_size=1000,
            ignore_conflicts=not new,
        )
    return len(missing)


def work_claim(
    *, step: str, limit: int, now: datetime | None = None, lease: float | None = None
) -> list[Work]:
    """Claim up to ``limit`` due rows of ``step`` for this worker, oldest first."""
    now = now or timezone.now()
    token = secrets.token_hex(16)
    until = now + timedelta(seconds=settings.WORK_LEASE if lease is None else lease)
    due = Work.objects.filter(step=step, due__lte=now).order_by("due", "pk")
    # A plain read first: an idle worker must not take SQLite's write lock
    # (IMMEDIATE transactions) several times a second.
    if not due.exists():
        return []
    with transaction.atomic():
        if connections[due.db].features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        Work.objects.filter(pk__in=ids, due__lte=now).update(
            due=until, claim=token, attempts=F("attempts") + 1, updated=now
        )
    return list(Work.objects.filter(claim=token).order_by("due", "pk"))


def work_extend(tokens: Iterable[str], *, lease: float | None = None) -> int:
    """Renew the lease of the claims a live worker holds."""
    tokens = list(tokens)
    if not tokens:
        return 0
    now = timezone.now()
    until = now + timedelta(seconds=settings.WORK_LEASE if lease is None else lease)
    return Work.objects.filter(claim__in=tokens).update(due=until, updated=now)


def work_finish(work: Work) -> None:
    """The step ran: drop the row, or keep it for the run asked for meanwhile."""
    with transaction.atomic():
        mine = Work.objects.filter(pk=work.pk, claim=work.claim)
        if not mine.filter(again__isnull=True).delete()[0]:
            mine.update(due=F("again"), again=None, claim="", attempts=0, updated=timezone.now())


def work_fail(work: Work, error: str, *, now: datetime | None = None) -> bool:
    """The step raised: retry later, or give up.  Returns True when given up."""
    now = now or timezone.now()
    gave_up = work.attempts >= settings.WORK_MAX_ATTEMPTS
    delay = min(settings.WORK_RETRY_BASE * 2 ** max(work.attempts - 1, 0), settings.WORK_RETRY_MAX)
    with transaction.atomic():
        mine = Work.objects.filter(pk=work.pk, claim=work.claim)
        # Scheduled again while it ran: a new decision, with attempts of its own.
        mine.filter(again__isnull=False).update(
            due=F("again"), again=None, claim="", attempts=0, last_error=error[:ERROR_LIMIT]
        )
        mine.update(
            due=None if gave_up else now + timedelta(seconds=delay),
            claim="",
            last_error=error[:ERROR_LIMIT],
            updated=now,
        )
    return gave_up


def steps_due(now: datetime | None = None) -> set[str]:
    """The steps with rows due now: one indexed read, so an idle round costs one query."""
    return set(
        Work.objects.filter(due__lte=now or timezone.now())
        .order_by()
        .values_list("step", flat=True)
        .distinct()
    )
