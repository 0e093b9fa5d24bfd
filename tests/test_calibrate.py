"""This machine's speed against the one the cost fit is exact on."""

from __future__ import annotations

import math

import pytest

from npcnn.sweep import calibrate


def test_the_factor_is_the_slice_here_over_the_reference_slice(monkeypatch):
    monkeypatch.setattr(calibrate, "slice_seconds", lambda: 3 * calibrate.REFERENCE_S)
    assert calibrate.speed_factor() == pytest.approx(3.0)
    assert calibrate.REFERENCE_S > 0


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
