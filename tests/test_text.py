"""How durations and ranges read in the report's log lines."""

from __future__ import annotations

from npcnn.text import clock, clock_range


def test_clock_writes_minutes_then_hours():
    assert clock(59.6) == "1:00" and clock(3600) == "1:00:00" and clock(None) == "?"


def test_a_range_collapses_when_its_ends_read_the_same():
    assert clock_range(678.4, 975.1) == "11:18–16:15"
    assert clock_range(61.2, 60.9) == "1:01"  # both round to 1:01
    assert clock_range(3000, 4000) == "50:00–1:06:40"
