"""Layers: small classes with ``forward(x)`` and ``backward(dout) -> dx``.

Public API, the layout everyone expects:
    images  x: (N, C, H, W)        flat features  x: (N, D)
    Conv2D  W: (F, C, k, k), b: (F,)     Linear  W: (D_in, D_out), b: (D_out,)
Layers with weights keep ``params`` and ``grads`` dicts with equal keys and shapes;
``backward`` fills ``grads`` (and asserts that they match). Spatial output size, once:

    H' = 1 + (H + 2*padding - k) // stride        (W' likewise)

Three tiers of the convolution, to read in this order: ``npcnn.reference`` (loops over
every output pixel: the definition), ``ReadableConv2D`` (``layers/readable.py``: im2col
by strides, one matmul, col2im, forward and backward side by side in about 40 lines), and
``Conv2D``/``ConvReLUPool`` (the fast path below: the same idea on grids and blocks with
reused buffers). The tests hold each against the one before it.

Fast path. Inside a model (``npcnn.models.Sequential``) activations travel channel-major,
``(C, N, H, W)``, between the internal ``forward_cm(x, train)``/``backward_cm(dout)``
methods: then every convolution is ONE 2-D matmul ``(F, C*k*k + 1) @ (C*k*k + 1,
N*H'*W')`` whose result is already the next layer's channel-major input, with no
transpose between layers. The bias is folded into that matmul as a row of ones under the
im2col columns. Work buffers (padded input, columns, outputs, gradients) are allocated
once per batch shape and reused; the zero border of a padded buffer persists, so no
``np.pad`` per batch. The public ``forward``/``backward`` wrap ``forward_cm``/
``backward_cm`` with the transposes and copies that make each layer usable on its own.
``npcnn.reference`` has loop-based versions of each.

Grids. A stride-1 convolution reads its input from a ``Grid`` (``npcnn.im2col``): the
batch stored flat with shared zero pads, so that each im2col row is one contiguous copy,
and computes its output at every grid position. Between ``forward_cm``/``backward_cm``
such batches travel as a ``GridBatch`` (the buffer and its grid) instead of a plain
(C, N, H, W) array: ReLU works on the whole buffer, a pooling layer writes straight into
the grid the next convolution reads (each layer knows its ``consumer``), and its
gradient comes back on the same grid. Layers that do not use grids take
``GridBatch.array()`` (``as_array``).

``ConvReLUPool`` runs a model's first Conv2D -> ReLU -> 2x2 AvgPool2D as one stage, a
block of images at a time, on phase planes (even/odd rows and columns), so that the
convolution's output, the largest activation, never leaves the cache.
"""

from npcnn.layers.base import GridBatch, Layer
from npcnn.layers.conv import Conv2D
from npcnn.layers.fused import ConvReLUPool
from npcnn.layers.linear import Flatten, Linear
from npcnn.layers.pointwise import ReLU, Sigmoid
from npcnn.layers.pool import AvgPool2D, MaxPool2D
from npcnn.layers.readable import ReadableConv2D

__all__ = ["Layer", "GridBatch", "Conv2D", "ConvReLUPool", "AvgPool2D", "MaxPool2D", "ReLU",
           "Sigmoid", "Flatten", "Linear", "ReadableConv2D"]
