"""This machine's speed against the one the cost fit is exact on."""

from __future__ import annotations

import math

import pytest

from npcnn.sweep import calibrate


def test_the_factors_are_the_slice_here_over_each_checks_reference(monkeypatch):
    low_ref, high_ref = min(calibrate.REFERENCES_S), max(calibrate.REFERENCES_S)
    monkeypatch.setattr(calibrate, "slice_seconds", lambda: 3 * high_ref)
    low, high = calibrate.speed_factors()
    # The fastest reading of this machine divides by the largest reference slice.
    assert low == pytest.approx(3.0) and high == pytest.approx(3 * high_ref / low_ref)
    assert low <= high
    for (slice_s, ratio, what), ref in zip(calibrate.CHECKS, calibrate.REFERENCES_S, strict=True):
        assert slice_s > 0 and ratio > 0 and what and ref == pytest.approx(slice_s / ratio)


def test_the_slice_times_the_trainers_steps_of_each_network(monkeypatch):
    calls = []
    real = calibrate.train_step

    def counted(model, *args):
        calls.append(repr(model))
        return real(model, *args)

    monkeypatch.setattr(calibrate, "train_step", counted)
    seconds = calibrate.slice_seconds(steps=2, repeats=2)
    assert math.isfinite(seconds) and seconds > 0
    # Per network: one step to allocate its buffers, then steps x repeats timed.
    assert len(calls) == len(calibrate.CHANNELS) * (1 + 2 * 2)
    assert len(set(calls)) == len(calibrate.CHANNELS)  # C=4 and C=16, not one net twice
