"""What a telemetry file's first line is (`race.bronze.file_header`), from its first bytes; expected by hand."""

from __future__ import annotations

import pytest

from lakehouse.race.bronze import NAMED, NO_HEADER, STANDARD, file_header

COLUMNS = "rider_id,timestamp,lat,lon,altitude_m,speed_mps,heart_rate,power_w,cadence_rpm"


@pytest.mark.parametrize(
    ("head", "kind", "names"),
    [
        (b"", STANDARD, COLUMNS.split(",")),  # an empty file: nothing to read either way
        (f"{COLUMNS}\n11,2024".encode(), STANDARD, COLUMNS.split(",")),
        (f"\ufeff{COLUMNS}\r\n11,2024".encode(), STANDARD, COLUMNS.split(",")),  # byte order mark, CRLF
        (b"11,2024-07-01T10:00:00Z,49.1,-0.3\n", NO_HEADER, ["11", "2024-07-01t10:00:00z", "49.1", "-0.3"]),
        (b"lat,lon,time\n", NAMED, ["lat", "lon", "time"]),
        (b"Rider_ID, Timestamp ,LAT\n", NAMED, ["rider_id", "timestamp", "lat"]),
        (b'"rider_id","lat"\n', NAMED, ["rider_id", "lat"]),  # quoted names
        (b"time,lat,lon\n", NO_HEADER, ["time", "lat", "lon"]),  # its first field names none of our columns
    ],
)
def test_the_first_line_says_how_a_file_is_read(head: bytes, kind: str, names: list[str]) -> None:
    assert file_header(head) == (kind, names)
