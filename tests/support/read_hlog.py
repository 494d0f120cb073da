"""Reads an HdrHistogram interval log with a reader jitterd did not write:
the `hdrhistogram` package's HistogramLogReader (module `hdrh`).

    python3 read_hlog.py LOG

prints one JSON object: {"intervals": [...]} with, for each interval line in
file order, its tag, absolute start and end (ms since the epoch, from the
log's BaseTime), count, min, max (ns), quantiles 0.5/0.9/0.99/0.999/1 (ns)
and the line's own max column (ms). Exits 3 if `hdrh` is missing."""

import json
import sys

try:
    from hdrh.histogram import HdrHistogram
    from hdrh.log import HistogramLogReader
except ImportError:
    print("read_hlog.py: the Python package hdrhistogram is missing (pip install hdrhistogram)", file=sys.stderr)
    sys.exit(3)

QUANTILES = ["0.5", "0.9", "0.99", "0.999", "1"]


def max_columns(path):
    """The max column of every interval line, in file order."""
    columns = []
    with open(path, encoding="utf-8") as log:
        for line in log:
            if line.startswith("Tag="):
                line = line[line.index(",") + 1:]
            fields = line.split(",")
            if len(fields) == 4 and fields[0][:1].isdigit():
                columns.append(float(fields[2]))
    return columns


def main(path):
    reader = HistogramLogReader(path, HdrHistogram(1, 3_600_000_000_000, 3))
    intervals = []
    while True:
        histogram = reader.get_next_interval_histogram()
        if histogram is None:
            break
        count = histogram.get_total_count()
        intervals.append({
            "tag": histogram.get_tag(),
            "start_ms": histogram.get_start_time_stamp(),
            "end_ms": histogram.get_end_time_stamp(),
            "count": count,
            "min": histogram.get_min_value() if count else 0,
            "max": histogram.get_max_value() if count else 0,
            "quantiles": {q: histogram.get_value_at_percentile(float(q) * 100) for q in QUANTILES},
        })
    reader.close()
    columns = max_columns(path)
    if len(columns) != len(intervals):
        print(f"read_hlog.py: {len(columns)} interval lines but the reader returned {len(intervals)}", file=sys.stderr)
        sys.exit(1)
    for interval, column in zip(intervals, columns):
        interval["max_column_ms"] = column
    print(json.dumps({"intervals": intervals}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    main(sys.argv[1])
