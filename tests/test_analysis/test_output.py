"""mmsola.analysis.output: the one CSV writer, markdown table and duration format of every
analysis tool."""
import csv

from mmsola.analysis.output import hms, markdown_table, write_csv


def test_write_csv_columns_and_missing_cells(tmp_path):
    rows = [dict(a=1, b='x'), dict(a=2, c=3.5)]
    path = tmp_path / 'new' / 'rows.csv'  # parent folders created
    write_csv(rows, path)
    with open(path) as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ['a', 'b'] and list(reader) == [
            dict(a='1', b='x'), dict(a='2', b='')]
    write_csv(rows, path, columns=['c', 'a'])  # replaced as a whole, in the given order
    assert path.read_text().splitlines() == ['c,a', ',1', '3.5,2']
    assert sorted(p.name for p in path.parent.iterdir()) == ['rows.csv']  # no temporary left


def test_markdown_table():
    table = markdown_table([dict(name='x', v=0.123), dict(name='y', v=2.0)],
                           [('name', lambda r: r['name']), ('v', lambda r: f"{r['v']:.2f}")])
    assert table.splitlines() == ['| name | v |', '|---|---|', '| x | 0.12 |', '| y | 2.00 |']


def test_hms_rounds_to_the_nearest_second():
    assert hms(0) == '0:00:00' and hms(59.4) == '0:00:59' and hms(59.5) == '0:01:00'
    assert hms(3725.4) == '1:02:05' and hms(90061) == '25:01:01'
