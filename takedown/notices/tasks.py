"""Background tasks: thin wrappers that call the services after commit."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from takedown.notices import services


@db_task()
def notice_plan_task(site_id: int) -> None:
    services.notice_plan_site(site_id)


@db_task()
def site_close_task(site_id: int) -> None:
    services.site_close(site_id)


@db_task()
def reporter_ack_task(report_id: int) -> None:
    services.reporter_ack(report_id)
