"""Thin products: ``a @ b`` whose shared axis is long and whose result is small.

The weight gradients of a convolution are such products: ``dz (F, P) @ cols^T (P, R)``
(or its transpose ``cols (R, P) @ dz^T (P, F)``) with F output channels, R = C*k*k + 1
rows and P output positions of a block of images, up to ~80,000. OpenBLAS runs them
slowly as one call. Its AVX-512 builds (the SkylakeX, Cooperlake and SapphireRapids
kernels) have a small-matrix kernel that a thin product reaches when it is cut along the
shared axis into pieces of at most ``BLOCK_MACS`` multiply-adds, the pieces' products
summed in order. Its other kernels (Haswell and older, which OpenBLAS picks for AMD Zen
1-3 and for any CPU run with ``OPENBLAS_CORETYPE=Haswell``) and other BLAS libraries have
no such path, and there the product stays one call.

The sum in pieces rounds differently from the one call (float32: a relative ~1e-6 of the
products' magnitude), as one BLAS kernel already rounds differently from another: a run's
numbers are reproducible on one BLAS kernel, as they always were.
"""

from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import threadpool_info

# OpenBLAS kernels with the small-matrix path for single precision (as threadpoolctl
# names them in "architecture").
SMALL_KERNELS = frozenset({"SkylakeX", "Cooperlake", "SapphireRapids"})

# Multiply-adds per piece. Measured (issue 22) on a 2-core AMD EPYC Zen 4 with NumPy 2.4
# and OpenBLAS 0.3.31 (SkylakeX kernels), batch 100, one thread: the first stage's dW as
# one call ran at 12 GFLOP/s at F=4, 26 at F=16, 33 at F=32; in column pieces of at most
# ~1e6 multiply-adds at 59, 78 and 81 (the second conv's dW at F=4: 25 -> 64), and a
# training step at C=4 in 2.16 ms instead of 2.76 (1.28x), C=16 1.08x, C=32 1.04x. On the
# Haswell kernels (AMD EPYC without AVX-512, same NumPy) pieces of 2^16..2^22 ran
# 0.17-1.0x as fast as the one call at F=4, 16 and 32: never faster (hence SMALL_KERNELS).
BLOCK_MACS = 1_000_000


def has_small_kernel(architecture: str | None) -> bool:
    """Whether an OpenBLAS kernel of this name has the small-matrix path."""
    return architecture in SMALL_KERNELS


@functools.cache
def kernel() -> str | None:
    """The kernel NumPy's OpenBLAS runs (``"Haswell"``, ``"SkylakeX"``, ...), None for
    another BLAS (read once per process: OpenBLAS picks its kernel when it loads)."""
    version = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {}).get("version")
    # NumPy's own: another OpenBLAS may be loaded too (SciPy's, a plugin's).
    ours = [i for i in threadpool_info() if i.get("internal_api") == "openblas"
            and (version is None or i.get("version") == version)]
    return ours[0].get("architecture") if ours else None


def small_kernel() -> bool:
    """Whether NumPy's BLAS is an OpenBLAS whose kernel has the small-matrix path."""
    return has_small_kernel(kernel())


def pieces(m: int, k: int, n: int, small: bool) -> int:
    """How many pieces of the shared axis an (m, k) @ (k, n) product is cut into: 1
    without the small-matrix kernel, else enough to keep each at most ``BLOCK_MACS``."""
    return max(1, min(k, -(-m * k * n // BLOCK_MACS))) if small else 1


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, tmp: np.ndarray, add: bool = False,
           small: bool | None = None) -> None:
    """out = a @ b (out += a @ b with ``add``), a: (M, K), b: (K, N), out, tmp: (M, N).

    In ``pieces`` of K, summed in order, on a BLAS with the small-matrix kernel
    (``small``: default ``small_kernel()``); else one call. ``tmp`` is scratch.
    """
    m, k = a.shape
    n = b.shape[1]
    parts = pieces(m, k, n, small_kernel() if small is None else small)
    if parts == 1:  # the common case, without the loop's few microseconds per call
        np.matmul(a, b, out=tmp if add else out)
        if add:
            out += tmp
        return
    edges = [k * i // parts for i in range(parts + 1)]
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        first = i == 0 and not add
        np.matmul(a[:, lo:hi], b[lo:hi], out=out if first else tmp)
        if not first:
            out += tmp


__all__ = ["SMALL_KERNELS", "BLOCK_MACS", "has_small_kernel", "kernel", "small_kernel", "pieces",
           "matmul"]
