"""A study's plan: its points (labelled configurations), the seeds each is trained with,
every run (a point under one seed: ``runs``, the one place that expansion is made), and
what each run costs (to train the longest first and to estimate the time left)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from npcnn import datasets, text
from npcnn.config import PRESETS, ConfigError, TrainConfig, field_names, with_preset
from npcnn.data import VAL_SIZE, train_images
from npcnn.models import geometry, network_name


@dataclass(frozen=True)
class Point:
    """One point of a study: a label for legends and tables, its config (with the first
    seed), and the swept value."""

    label: str
    config: TrainConfig
    value: Any = None


def preset_label(preset: str, config: TrainConfig) -> str:
    """``best: CNN k=3 C=16, lr 0.05, init_std 0.1``: a preset's point in legends."""
    rest = [f"{k} {text.value(getattr(config, k))}" for k in PRESETS[preset]
            if k not in ("channels", "kernel_size")]
    return f"{preset}: " + ", ".join([network_name(config), *rest])


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
        optional ``"label"`` key names the point in legends, an optional ``"preset"``
        (``npcnn.config.PRESETS``, e.g. ``{"preset": "best"}``) starts from a preset.

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
        points = [Point(network_name(config), config)]
    for i, overrides in enumerate(extra):
        if not isinstance(overrides, dict):
            raise ConfigError(f"extra[{i}] must be a mapping of field: value, "
                              f"got {overrides!r}")
        preset = str(overrides.get("preset", ""))
        changes = with_preset({k: v for k, v in overrides.items()
                               if k not in ("label", "preset")}, preset)
        point = config.replace(**changes)
        label = overrides.get("label") or (
            preset_label(preset, point) if preset
            else ", ".join(f"{k}={text.value(v)}" for k, v in changes.items()))
        points.append(Point(str(label), point))
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


@dataclass(frozen=True)
class Run:
    """One run of a study: a point under one seed."""

    point: Point
    config: TrainConfig  # the point's config with ``seed``

    @property
    def seed(self) -> int:
        return self.config.seed

    def label(self, prefix: str = "", seeds: int = 1) -> str:
        """``"<prefix><point label>"``, with ``", seed <s>"`` when a point has several."""
        return f"{prefix}{self.point.label}" + (f", seed {self.seed}" if seeds > 1 else "")


def runs(points: Sequence[Point], seeds: Sequence[int] = ()) -> list[Run]:
    """Every run of a study, point by point, each point under each of ``seeds`` (no
    seeds: each point's own ``config.seed``)."""
    return [Run(p, p.config.replace(seed=s) if seeds else p.config)
            for p in points for s in (seeds or [p.config.seed])]


def labels(points: Sequence[Point], seeds: Sequence[int] = (), prefix: str = "") -> dict:
    """``{run key: label}`` for progress lines (the first label wins for a run that several
    points share)."""
    out: dict[str, str] = {}
    for r in runs(points, seeds):
        out.setdefault(r.config.key(), r.label(prefix, len(seeds)))
    return out


# Seconds per full epoch of MNIST (npcnn.data.epoch_words) on one core with both
# cores busy, fitted to the runs of a full report on this project's 2-core machine
# (C=4..32 at k=3, k=5 and 7 at C=4: within 6%): a CNN's epoch costs in proportion to the
# im2col elements it unfolds, its multiply-accumulates and its activations per image; an
# MLP's is a few fast matmuls. For ordering runs and estimating time left only.
CNN_S = (-0.18, 0.69e-4, 3.7e-6, 1.47e-4)  # intercept, per element, per MAC, per activation
# Intercept, per MAC. Scaled from the first fit (0.15, 1.5e-6) by 1.74: in the full report
# of 2026-12-02 the MLPs took 2.56 times their estimate and the CNNs 1.47 times theirs.
MLP_S = (0.26, 2.6e-6)
EVAL_COST = 0.35  # evaluating an image costs about a third of training one


def estimate_seconds(config: TrainConfig) -> float:
    """Rough wall seconds of a run in a worker process (one thread, both cores busy), from
    the geometry of its network: per conv layer the im2col elements it unfolds
    (H'*W'*(C*k*k + 1)) and the activations it writes, and every layer's MACs."""
    shapes = geometry(config)
    macs = sum(g.macs for g in shapes)
    if config.model == "mlp":
        full = MLP_S[0] + MLP_S[1] * macs
    else:
        convs = [g for g in shapes if g.kind == "Conv2D"]
        elements = sum(g.out_shape[1] * g.out_shape[2] * (g.params // g.out_shape[0])
                       for g in convs)  # params per filter = C*k*k + 1
        acts = sum(int(g.out_shape[0] * g.out_shape[1] * g.out_shape[2]) for g in convs)
        a, b, c, d = CNN_S
        full = max(0.2, a + b * elements + c * macs + d * acts)
    ds = datasets.get(config.dataset)
    n_train = ds.n_train - VAL_SIZE
    images = train_images(config.subset, ds.name) + EVAL_COST * (VAL_SIZE + ds.n_test)
    return config.epochs * full * images / (n_train + EVAL_COST * (VAL_SIZE + ds.n_test))


def longest_first(configs: Sequence[TrainConfig]) -> list[TrainConfig]:
    """``configs`` in the order a sweep starts them: the longest first, so that the last
    runs to finish are short ones and no core idles long at the end."""
    return sorted(configs, key=estimate_seconds, reverse=True)


__all__ = ["Point", "Run", "preset_label", "plan", "seed_list", "runs", "labels",
           "estimate_seconds", "longest_first"]
