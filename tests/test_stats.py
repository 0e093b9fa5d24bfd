"""Numbers over seeds: the summary and the paired rule, on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from npcnn.stats import Paired, Summary


def test_summary_uses_the_sample_sd():
    s = Summary.of([0.9754, 0.9743, 0.9740, 0.9772])
    assert s.n == 4 and s.mean == pytest.approx(0.975225)
    assert s.sd == pytest.approx(0.0014477, abs=1e-7)  # ddof=1: sqrt(6.2875e-6 / 3)
    assert (s.min, s.max) == (0.9740, 0.9772)
    assert s.text() == "0.9752 ± 0.0014 (0.9740–0.9772)"
    assert math.isnan(Summary.of([0.5]).sd) and Summary.of([0.5]).text() == "0.5000"


def test_a_difference_is_established_by_sign_and_two_standard_errors():
    # The k=7 vs k=3 pairs: the sign flips, nothing is established.
    assert Paired.of([0.9709, 0.9780, 0.9745], [0.9754, 0.9743, 0.9740]).direction == 0
    # Same sign, mean 0.002, sd 0.001 -> SE 0.000577 -> 0.002 > 2 SE: established.
    up = Paired.of([0.003, 0.002, 0.001], [0, 0, 0])
    assert up.direction == 1 and up.se == pytest.approx(0.001 / math.sqrt(3))
    assert Paired.of([0, 0, 0], [0.003, 0.002, 0.001]).direction == -1
    # Same sign but too noisy: 0.1, 0.001, 0.001 -> mean 0.034 < 2 SE (0.066).
    assert Paired.of([0.1, 0.001, 0.001], [0, 0, 0]).direction == 0
    # One seed settles nothing, however large the difference.
    assert Paired.of([0.9], [0.1]).direction == 0
    assert "n=3" in up.text() and "+0.0030" in up.text()
    with pytest.raises(ValueError):
        Paired.of([1, 2], [1])
