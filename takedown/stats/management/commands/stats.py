"""``takedown stats [--fy YEAR] [--format table|csv|json]``: the seed's tables (CONTRACT.md)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import pgettext
from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from takedown.stats import tables
from takedown.stats.calendar import parse_fiscal_year
from takedown.stats.selectors import stats_as_json, stats_compute, stats_period
from takedown.stats.tables import Table, table_csv


def rich_table(table: Table) -> RichTable:
    out = RichTable(title=table.title, box=box.SIMPLE_HEAVY, title_justify="left")
    spans: list[str] = []
    for label, span in table.groups:
        spans.extend([label] + [""] * (span - 1))
    for i, column in enumerate(table.columns):
        group = spans[i] if i < len(spans) else ""
        out.add_column(
            f"{group}\n{column}" if group else column,
            justify="right" if i in table.numeric else "left",
            overflow="fold",
        )
    for row in table.rows:
        # rich would read "[...]" in a brand name as markup.
        out.add_row(*(_plain(c) for c in row))
    if table.note:
        out.caption = table.note
        out.caption_justify = "left"
    return out


def transposed(table: Table) -> Table:
    """Years down the side instead of across: the reporters table over many years.

    The seed's layout puts each fiscal year's overseas/domestic pair in
    columns, which a terminal cannot fit past three or four years.
    """
    spans = [span for _, span in table.groups[1:]]
    if not spans or len(set(spans)) != 1:
        return table
    k = spans[0]
    subs = table.columns[1 : 1 + k]
    columns = [pgettext("stats", "Fiscal year")]
    columns += [f"{row[0]}\n{sub}" for row in table.rows for sub in subs]
    rows = []
    for g, (label, _) in enumerate(table.groups[1:]):
        rows.append([label, *(row[1 + g * k + i] for row in table.rows for i in range(k))])
    return Table(
        name=table.name,
        title=table.title,
        columns=columns,
        rows=rows,
        csv_columns=table.csv_columns,
        csv_rows=table.csv_rows,
        note=table.note,
        numeric=set(range(1, len(columns))),
    )


def _plain(text: str) -> Any:
    from rich.text import Text

    return Text(text)


class Command(BaseCommand):
    help = "Print the statistics: reports per month, reporters, administrators, closure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fy", help="fiscal year (April to March), e.g. 2025; default: all")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
        parser.add_argument(
            "--table",
            choices=sorted(tables.BUILDERS),
            action="append",
            help="only this table (repeatable); default: the seed's four and the survival table",
        )
        parser.add_argument(
            "--all", action="store_true", help="every table, also brands, recurrence, feedback"
        )
        parser.add_argument(
            "--output-dir", help="with --format csv: write one NAME.csv per table into this folder"
        )
        parser.add_argument(
            "--lang", choices=[code for code, _ in settings.LANGUAGES], help="language of labels"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        fy = None
        if opts["fy"] is not None and opts["fy"].strip().lower() != "all":
            try:
                fy = parse_fiscal_year(opts["fy"])
            except ValueError as exc:
                raise CommandError(f"--fy: {exc}") from None
        if opts["output_dir"] and opts["format"] != "csv":
            raise CommandError("--output-dir goes with --format csv")
        with translation.override(opts["lang"] or translation.get_language()):
            stats = stats_compute(stats_period(fy=fy))
            if opts["format"] == "json":
                self.stdout.write(json.dumps(stats_as_json(stats), ensure_ascii=False, indent=2))
                return
            names = opts["table"] or (
                list(tables.BUILDERS) if opts["all"] else [*tables.SEED_TABLES, "survival"]
            )
            built = [tables.build_table(name, stats) for name in names]
            if opts["format"] == "csv":
                self._csv(built, opts["output_dir"])
                return
            self._tables(built, stats.period.label())

    def _csv(self, built: list[Table], output_dir: str | None) -> None:
        if output_dir:
            folder = Path(output_dir)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                for table in built:
                    (folder / f"{table.name}.csv").write_text(table_csv(table), encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"{output_dir}: {exc.strerror or exc}") from None
            self.stdout.write(f"{len(built)} CSV file(s) written to {folder}")
            return
        if len(built) == 1:
            self.stdout.write(table_csv(built[0]), ending="")
            return
        for i, table in enumerate(built):
            if i:
                self.stdout.write("")
            self.stdout.write(f"# {table.name}")
            self.stdout.write(table_csv(table), ending="")

    def _tables(self, built: list[Table], label: str) -> None:
        width = shutil.get_terminal_size((160, 40)).columns if sys.stdout.isatty() else 160
        out = cast(IO[str], self.stdout)
        console = Console(file=out, width=width, highlight=False, soft_wrap=False)
        console.print(label, style="bold", markup=False)
        for table in built:
            if table.groups and len(table.columns) > 9:
                table = transposed(table)
            console.print(rich_table(table))
