"""Figures for the report's notebooks. Every function returns a ``Plot``, one inline PNG
in a notebook (``base``): the curves of a study over its seeds (``curves``), what a
network learned (``maps``) and a claim's findings (``forest``)."""

from npcnn.plots.base import Plot
from npcnn.plots.curves import bars, curves, iter_loss, lines, lr_curves, seed_mean, thumbnail
from npcnn.plots.forest import forest, forest_side_by_side, rows_of
from npcnn.plots.maps import confusion, feature_maps, filters, im2col_figure, misclassified

__all__ = ["Plot", "bars", "curves", "iter_loss", "lines", "lr_curves", "seed_mean",
           "thumbnail", "forest", "forest_side_by_side", "rows_of", "confusion",
           "feature_maps", "filters", "im2col_figure", "misclassified"]
