"""What the analysis tools write and print: CSV files, markdown tables, durations.

One helper per job for every study (ERF, pattern sweep, pattern study, speed against
resolution): :func:`write_csv` writes the rows atomically, :func:`markdown_table` prints them,
:func:`hms` gives the elapsed times and ETAs of their progress lines.
"""
import csv
import io
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

Row = Dict[str, object]


def write_csv(rows: Sequence[Row], path: Union[str, Path],
              columns: Optional[Sequence[str]] = None) -> None:
    """The rows as CSV at ``path``, written atomically (parent folders created).

    Args:
        columns: the header, in order; a row lacking one gets an empty cell and keys of a row
            not in it are left out. Default: the keys of the first row.
    """
    from mmsola.utils import AtomicLocalBackend
    columns = list(columns if columns is not None else rows[0])
    buf = io.StringIO(newline='')
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction='ignore')
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, '') for k in columns})
    AtomicLocalBackend().put_text(buf.getvalue(), path)


# a column: its header and the cell of a row (a function of the row)
Column = Tuple[str, Callable[[Row], object]]


def markdown_table(rows: Sequence[Row], columns: Sequence[Column]) -> str:
    """A markdown table, one line per row, one column per ``(header, cell)`` pair."""
    lines = ['| ' + ' | '.join(header for header, _ in columns) + ' |',
             '|' + '---|' * len(columns)]
    for row in rows:
        lines.append('| ' + ' | '.join(str(cell(row)) for _, cell in columns) + ' |')
    return '\n'.join(lines)


def hms(seconds: float) -> str:
    """``'h:mm:ss'``, to the nearest second: ``hms(3725.4) == '1:02:05'``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}'
