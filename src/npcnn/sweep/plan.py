"""A study's plan: its points (labelled configurations), the seeds each is trained with,
and what each run costs (to schedule the longest first and to estimate time left)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from npcnn import text
from npcnn.config import ConfigError, TrainConfig, field_names
from npcnn.data import N_TEST, N_TRAIN, VAL_SIZE, train_images
from npcnn.threads import macs_per_image


@dataclass(frozen=True)
class Point:
    """One point of a study: a label for legends and tables, its config (with the first
    seed), and the swept value."""

    label: str
    config: TrainConfig
    value: Any = None


def describe(config: TrainConfig) -> str:
    """A short name of the network, e.g. ``"CNN k=3 C=4"`` or ``"MLP 784-100-50-10"``."""
    if config.model == "mlp":
        return "MLP " + "-".join(map(str, (784, *config.hidden, 10)))
    return f"CNN k={config.kernel_size} C={config.channels}"


def plan(config: TrainConfig, sweep: str = "", values: Sequence[Any] = (),
         extra: Sequence[dict[str, Any]] = ()) -> list[Point]:
    """The points of a study.

    Parameters
    ----------
    config
        The base configuration.
    sweep, values
        A ``TrainConfig`` field and its values: one point per value. ``sweep=""``: the
        base configuration alone.
    extra
        Further points as overrides of the base, e.g. ``{"schedule": "constant"}``; an
        optional ``"label"`` key names the point in legends.

    Raises
    ------
    ConfigError
        An unknown field or a bad value, naming it.
    """
    if not isinstance(sweep, str):
        raise ConfigError(f"sweep must be a config field name, got {sweep!r}")
    if sweep and sweep not in field_names():
        raise ConfigError(f"sweep names unknown field {sweep!r}; fields: "
                          f"{', '.join(field_names())}")
    if sweep and not values:
        raise ConfigError(f"sweep {sweep!r} needs a non-empty list of values")
    if values and not sweep:
        raise ConfigError("values given without sweep: name the field to sweep")
    points = [Point(f"{sweep}={text.value(v)}", config.replace(**{sweep: v}), v)
              for v in values]
    if not sweep:
        points = [Point(describe(config), config)]
    for i, overrides in enumerate(extra):
        if not isinstance(overrides, dict):
            raise ConfigError(f"extra[{i}] must be a mapping of field: value, "
                              f"got {overrides!r}")
        changes = {k: v for k, v in overrides.items() if k != "label"}
        label = overrides.get("label") or ", ".join(f"{k}={text.value(v)}"
                                                    for k, v in changes.items())
        points.append(Point(str(label), config.replace(**changes)))
    return points


def seed_list(seeds: Sequence[Any], config: TrainConfig) -> list[int]:
    """The seeds every point is trained with: ``seeds``, or ``[config.seed]`` if empty.

    Raises
    ------
    ConfigError
        Not a list of distinct integers >= 0.
    """
    if not seeds:
        return [config.seed]
    if isinstance(seeds, (str, bytes)) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"seeds must be a list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds must be distinct, got {list(seeds)!r}")
    return list(seeds)


def runs_of(points: Sequence[Point], seeds: Sequence[int]) -> list[TrainConfig]:
    """Every run of a study: each point's config under each seed."""
    return [p.config.replace(seed=s) for p in points for s in seeds]


# Seconds per full epoch on one core (data.EPOCH_WORDS) with both
# cores busy, fitted to the runs of a full report on this project's 2-core machine
# (C=4..32 at k=3, k=5 and 7 at C=4: within 6%): a CNN's epoch costs in proportion to the
# im2col elements it unfolds, its multiply-accumulates and its activations per image; an
# MLP's is a few fast matmuls. For ordering runs and estimating time left only.
CNN_S = (-0.18, 0.69e-4, 3.7e-6, 1.47e-4)  # intercept, per element, per MAC, per activation
MLP_S = (0.15, 1.5e-6)  # intercept, per MAC


def estimate_seconds(config: TrainConfig) -> float:
    """Rough wall seconds of a run in a worker process (one thread, both cores busy)."""
    macs = macs_per_image(config)
    if config.model == "mlp":
        full = MLP_S[0] + MLP_S[1] * macs
    else:
        C, k2 = config.channels, config.kernel_size ** 2
        elements = 28 * 28 * (k2 + 1) + 14 * 14 * (C * k2 + 1)
        acts = 28 * 28 * C + 14 * 14 * C
        a, b, c, d = CNN_S
        full = max(0.2, a + b * elements + c * macs + d * acts)
    # Evaluating an image costs about a third of training one.
    images = train_images(config.subset) + 0.35 * (VAL_SIZE + N_TEST)
    return config.epochs * full * images / (N_TRAIN + 0.35 * (VAL_SIZE + N_TEST))


__all__ = ["Point", "describe", "plan", "seed_list", "runs_of", "estimate_seconds"]
