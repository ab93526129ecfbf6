"""CSV downloads, written one way: no text cell reaches a spreadsheet as a live formula.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and
some strip a leading tab or CR first), so a choice text like ``=HYPERLINK(...)`` would
run in the owner's or an administrator's spreadsheet. Such cells get a leading ``'``,
which spreadsheets read as "this is text". Numbers are the app's own and stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from aiohttp import web

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: object) -> object:
    """The cell as written to CSV: text that could start a formula gets a leading '."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> web.Response:
    """A UTF-8 CSV attachment of the header and rows, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in (header, *rows):
        writer.writerow([neutralised(cell) for cell in row])
    response = web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
