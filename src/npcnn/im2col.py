"""im2col / col2im: convolution as one matrix multiplication.

For an input ``x: (N, C, H, W)``, a ``k x k`` kernel, ``stride`` s and zero ``padding`` p,
the output size along each spatial axis is::

    H' = 1 + (H + 2p - k) // s        (and W' likewise)

``im2col`` unfolds every k x k window into a column::

    cols: (C*k*k, N*H'*W')    rows ordered (c, i, j), columns ordered (n, h', w')

so a convolution with filters ``W: (F, C, k, k)`` is ``W.reshape(F, -1) @ cols``. The
unfolding reads a strided *view* of the padded input (``sliding_window_view``, no Python
loop over samples, channels or pixels) and copies it once into the column matrix.
``col2im`` is its adjoint: it sums each column entry back onto the pixel it came from
(a loop over the k*k kernel offsets only, each step a whole-array strided add).

The ``*_cm`` variants work in the channel-major layout ``(C, N, H, W)`` that the models
use between layers: there the column matrix can be filled without moving N in front
of C, and ``W_mat @ cols`` is already the next layer's ``(F, N, H', W')`` input.
``npcnn.reference`` holds the loop-based versions these are tested against.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a window sweep: ``1 + (size + 2*padding - k) // stride``."""
    n = (size + 2 * padding - k) // stride + 1
    if n < 1:
        raise ValueError(
            f"kernel {k} with padding {padding} does not fit an input of size {size}"
        )
    return n


def windows_cm(xp: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Strided view of every k x k window of an already padded channel-major input.

    xp: (C, N, Hp, Wp)  ->  view (C, k, k, N, H', W'), no copy.
    """
    v = sliding_window_view(xp, (k, k), axis=(2, 3))  # (C, N, Hp-k+1, Wp-k+1, k, k)
    v = v[:, :, ::stride, ::stride]
    return v.transpose(0, 4, 5, 1, 2, 3)


def im2col_cm(xp: np.ndarray, k: int, stride: int, out: np.ndarray | None = None) -> np.ndarray:
    """Unfold a padded channel-major input into columns.

    xp: (C, N, Hp, Wp) already padded; out: (C*k*k, N*H'*W') or None (allocated).
    Returns out.
    """
    win = windows_cm(xp, k, stride)  # (C, k, k, N, H', W')
    C, _, _, N, Ho, Wo = win.shape
    if out is None:
        out = np.empty((C * k * k, N * Ho * Wo), dtype=xp.dtype)
    np.copyto(out.reshape(win.shape), win)
    return out


# Images per block in ``conv_cm``: enough for ~1 MiB of float32 columns, which stay in
# cache between being written and being read by the matmul (~15-25% faster than
# unfolding the whole batch first, measured at C=4 and C=16).
BLOCK_FLOATS = 1 << 18


def block_images(rows: int, pixels: int) -> int:
    """Images whose (rows, pixels)-column blocks fill about ``BLOCK_FLOATS`` floats."""
    return max(1, BLOCK_FLOATS // (rows * pixels))


def conv_cm(xp: np.ndarray, k: int, stride: int, mat: np.ndarray, out: np.ndarray,
            cols: np.ndarray) -> None:
    """out = mat @ im2col(xp), unfolding and multiplying one block of images at a time.

    xp: (C, N, Hp, Wp) padded input; mat: (M, R) with R >= C*k*k (extra columns, e.g.
    the bias, meet rows of ``cols`` beyond C*k*k that were filled once, e.g. with ones);
    out: (M, N*H'*W'); cols: (R, N*H'*W') to keep the whole unfolded batch (backward
    needs it), or (R, B*H'*W') as a scratch block of B images.
    """
    win = windows_cm(xp, k, stride)  # (C, k, k, N, H', W')
    C, _, _, N, Ho, Wo = win.shape
    P, R = Ho * Wo, C * k * k
    whole = cols.shape[1] == N * P
    step = block_images(cols.shape[0], P) if whole else cols.shape[1] // P
    for a in range(0, N, step):  # blocks of images (cache blocking), not single samples
        b = min(N, a + step)
        block = cols[:, a * P:b * P] if whole else cols[:, :(b - a) * P]
        np.copyto(block[:R].reshape(C, k, k, b - a, Ho, Wo), win[:, :, :, a:b])
        np.matmul(mat, block, out=out[:, a * P:b * P])


def im2col(x: np.ndarray, k: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """x: (N, C, H, W) -> cols: (C*k*k, N*H'*W'), rows (c, i, j), columns (n, h', w')."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return im2col_cm(np.ascontiguousarray(xp.transpose(1, 0, 2, 3)), k, stride)


def col2im_cm(cols: np.ndarray, shape_cm: tuple, k: int, stride: int = 1,
              padding: int = 0) -> np.ndarray:
    """Adjoint of ``im2col_cm`` (with padding): sum columns back onto pixels.

    cols: (C*k*k, N*H'*W'); shape_cm = (C, N, H, W) of the unpadded input.
    Returns dx: (C, N, H, W).
    """
    C, N, H, W = shape_cm
    Ho, Wo = out_size(H, k, stride, padding), out_size(W, k, stride, padding)
    c = cols.reshape(C, k, k, N, Ho, Wo)
    xp = np.zeros((C, N, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    # Overlapping windows make this a scatter-add; looping over the k*k kernel offsets
    # turns it into k*k whole-array strided adds with no collisions within each add.
    for i in range(k):
        for j in range(k):
            xp[:, :, i:i + stride * Ho:stride, j:j + stride * Wo:stride] += c[:, i, j]
    return xp[:, :, padding:padding + H, padding:padding + W]


def col2im(cols: np.ndarray, x_shape: tuple, k: int, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Adjoint of ``im2col``: cols (C*k*k, N*H'*W') -> dx: x_shape = (N, C, H, W)."""
    N, C, H, W = x_shape
    dx = col2im_cm(cols, (C, N, H, W), k, stride, padding)
    return np.ascontiguousarray(dx.transpose(1, 0, 2, 3))
