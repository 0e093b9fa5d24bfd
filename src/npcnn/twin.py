"""PyTorch's twin of an npcnn model: the same layers, in the same order, with the same
weights, for the benchmark's side-by-side timings. PyTorch is imported only when a twin
is built (it is the optional ``bench`` extra)."""

from __future__ import annotations

import numpy as np

from npcnn.layers import AvgPool2D, Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sigmoid


def torch_twin(model):
    """PyTorch's copy of an npcnn ``Sequential`` (or ``BatchSplit``): the same layers in
    the same order with the same weights, as ``torch.nn.Sequential``.

    Raises
    ------
    TypeError
        A layer PyTorch has no twin for here.
    """
    import torch  # the optional dependency: only when a twin is built

    twins = []
    with torch.no_grad():
        for layer in model.layers:
            if isinstance(layer, Conv2D):
                t = torch.nn.Conv2d(layer.C, layer.F, layer.k, stride=layer.stride,
                                    padding=layer.padding)
                t.weight.copy_(torch.from_numpy(np.array(layer.params["W"])))
                t.bias.copy_(torch.from_numpy(np.array(layer.params["b"])))
            elif isinstance(layer, Linear):  # npcnn's W is (D_in, D_out), PyTorch's (out, in)
                t = torch.nn.Linear(layer.D, layer.M)
                t.weight.copy_(torch.from_numpy(np.array(layer.params["W"].T)))
                t.bias.copy_(torch.from_numpy(np.array(layer.params["b"])))
            elif isinstance(layer, (AvgPool2D, MaxPool2D)):
                kind = torch.nn.AvgPool2d if isinstance(layer, AvgPool2D) else torch.nn.MaxPool2d
                t = kind(layer.k, stride=layer.stride, padding=layer.padding)
            elif isinstance(layer, ReLU):
                t = torch.nn.ReLU()
            elif isinstance(layer, Sigmoid):
                t = torch.nn.Sigmoid()
            elif isinstance(layer, Flatten):
                t = torch.nn.Flatten()
            else:
                raise TypeError(f"no PyTorch twin for {layer!r}")
            twins.append(t)
    return torch.nn.Sequential(*twins)


__all__ = ["torch_twin"]
