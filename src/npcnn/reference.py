"""Loop-based reference layers: slow, obviously correct, and the definition of what the
fast vectorized layers must compute. Tests hold the fast layers against these.

The first of three tiers of the convolution: these loops, then
``npcnn.layers.readable.ReadableConv2D`` (the same sums as im2col by strides and one
matmul, about 40 lines), then the fast ``npcnn.layers.Conv2D``.

Layout is NCHW throughout: ``x: (N, C, H, W)``. Convolution is cross-correlation (no
kernel flip), as in PyTorch. Every windowed op (conv, pooling, im2col) with kernel ``k``,
``stride`` and ``padding`` on each side produces

    H' = 1 + (H + 2 * padding - k) // stride,    W' = 1 + (W + 2 * padding - k) // stride

(floor division: a window that would run past the padded edge is dropped). Inputs need
not be square. Results keep the inputs' float dtype; use float64 for gradient checks.
"""

from __future__ import annotations

import numpy as np


def _out_size(size: int, k: int, stride: int, padding: int) -> int:
    out = 1 + (size + 2 * padding - k) // stride
    if k < 1 or stride < 1 or padding < 0 or out < 1:
        raise ValueError(
            f"no output for size {size}, kernel {k}, stride {stride}, padding {padding}"
        )
    return out


def _pad(x: np.ndarray, padding: int, value: float = 0.0) -> np.ndarray:
    p = padding
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=value)


# -- convolution -----------------------------------------------------------------------


def conv2d_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """out[n, f, i, j] = b[f] + sum_{c, di, dj} W[f, c, di, dj] * xp[n, c, i*s + di, j*s + dj]

    ``xp`` is ``x`` zero-padded by ``padding``, ``s`` is ``stride``.
    x: (N, C, H, W), W: (F, C, k, k), b: (F,) -> out: (N, F, H', W').
    """
    N, C, H, Wd = x.shape
    F, C_w, k, k_w = W.shape
    if C_w != C or k_w != k or b.shape != (F,):
        raise ValueError(f"shapes do not match: x {x.shape}, W {W.shape}, b {b.shape}")
    Ho, Wo = _out_size(H, k, stride, padding), _out_size(Wd, k, stride, padding)
    xp = _pad(x, padding)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, W, b))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride : i * stride + k, j * stride : j * stride + k]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


def conv2d_backward(
    dout: np.ndarray, x: np.ndarray, W: np.ndarray, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``conv2d_forward`` given ``dout = dL/dout``.

    dout: (N, F, H', W'), x: (N, C, H, W), W: (F, C, k, k)
    -> dx: (N, C, H, W), dW: (F, C, k, k), db: (F,).
    Each output element sends ``dout * W[f]`` back to its input window and
    ``dout * window`` to ``W[f]``; gradient that lands on padding is discarded.
    """
    N, C, H, Wd = x.shape
    F, _, k, _ = W.shape
    Ho, Wo = _out_size(H, k, stride, padding), _out_size(Wd, k, stride, padding)
    if dout.shape != (N, F, Ho, Wo):
        raise ValueError(f"dout shape {dout.shape} != output shape {(N, F, Ho, Wo)}")
    dtype = np.result_type(dout, x, W)
    xp = _pad(x, padding)
    dxp = np.zeros(xp.shape, dtype=dtype)
    dW = np.zeros(W.shape, dtype=dtype)
    db = np.zeros(F, dtype=dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows = slice(i * stride, i * stride + k)
                    cols = slice(j * stride, j * stride + k)
                    g = dout[n, f, i, j]
                    dW[f] += g * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g * W[f]
                    db[f] += g
    dx = dxp[:, :, padding : padding + H, padding : padding + Wd]
    return dx, dW, db


# -- pooling ---------------------------------------------------------------------------


def avgpool2d_forward(
    x: np.ndarray, k: int, stride: int | None = None, padding: int = 0
) -> np.ndarray:
    """out[n, c, i, j] = mean of the k*k window of the zero-padded input at (i*s, j*s).

    Padding zeros count in the mean (PyTorch's ``count_include_pad=True``), so the
    divisor is always k*k. ``stride=None`` means ``stride = k``.
    x: (N, C, H, W) -> out: (N, C, H', W').
    """
    s = k if stride is None else stride
    N, C, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, s, padding), _out_size(Wd, k, s, padding)
    xp = _pad(x, padding)
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.sum(xp[n, c, i * s : i * s + k, j * s : j * s + k])
    return out / (k * k)


def avgpool2d_backward(
    dout: np.ndarray,
    x_shape: tuple[int, int, int, int],
    k: int,
    stride: int | None = None,
    padding: int = 0,
) -> np.ndarray:
    """Gradient of ``avgpool2d_forward``: each window element receives ``dout / (k*k)``.

    dout: (N, C, H', W'), x_shape = (N, C, H, W) -> dx: (N, C, H, W).
    """
    s = k if stride is None else stride
    N, C, H, Wd = x_shape
    Ho, Wo = _out_size(H, k, s, padding), _out_size(Wd, k, s, padding)
    if dout.shape != (N, C, Ho, Wo):
        raise ValueError(f"dout shape {dout.shape} != output shape {(N, C, Ho, Wo)}")
    dxp = np.zeros((N, C, H + 2 * padding, Wd + 2 * padding), dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    dxp[n, c, i * s : i * s + k, j * s : j * s + k] += dout[n, c, i, j] / (k * k)
    return dxp[:, :, padding : padding + H, padding : padding + Wd]


def maxpool2d_forward(
    x: np.ndarray, k: int, stride: int | None = None, padding: int = 0
) -> np.ndarray:
    """out[n, c, i, j] = max of the k*k window of the -inf-padded input at (i*s, j*s).

    ``stride=None`` means ``stride = k``. x: (N, C, H, W) -> out: (N, C, H', W').
    """
    s = k if stride is None else stride
    N, C, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, s, padding), _out_size(Wd, k, s, padding)
    xp = _pad(x, padding, -np.inf)
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(xp[n, c, i * s : i * s + k, j * s : j * s + k])
    return out


def maxpool2d_backward(
    dout: np.ndarray, x: np.ndarray, k: int, stride: int | None = None, padding: int = 0
) -> np.ndarray:
    """Gradient of ``maxpool2d_forward``: each ``dout`` goes to its window's max.

    On ties the first maximum in row-major window order takes it all.
    dout: (N, C, H', W'), x: (N, C, H, W) -> dx: (N, C, H, W).
    """
    s = k if stride is None else stride
    N, C, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, s, padding), _out_size(Wd, k, s, padding)
    if dout.shape != (N, C, Ho, Wo):
        raise ValueError(f"dout shape {dout.shape} != output shape {(N, C, Ho, Wo)}")
    xp = _pad(x, padding, -np.inf)
    dxp = np.zeros(xp.shape, dtype=np.result_type(dout, x))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, c, i * s : i * s + k, j * s : j * s + k]
                    # np.argmax returns the first maximum of the row-major flattening.
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dxp[n, c, i * s + di, j * s + dj] += dout[n, c, i, j]
    return dxp[:, :, padding : padding + H, padding : padding + Wd]


# -- elementwise and linear ------------------------------------------------------------


def relu_forward(x: np.ndarray) -> np.ndarray:
    """max(x, 0); x: any shape."""
    return np.maximum(x, 0)


def relu_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dout where x > 0, else 0 (the subgradient at 0 is taken as 0); same shape as x."""
    return dout * (x > 0)


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed as exp(-log(1 + exp(-x))) so no exp can overflow."""
    return np.exp(-np.logaddexp(0, -x))


def sigmoid_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dout * s * (1 - s) with s = sigmoid(x); same shape as x."""
    s = sigmoid_forward(x)
    return dout * s * (1 - s)


def linear_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """y = x @ W + b; x: (N, D_in), W: (D_in, D_out), b: (D_out,) -> y: (N, D_out)."""
    return x @ W + b


def linear_backward(
    dout: np.ndarray, x: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout: (N, D_out), x: (N, D_in), W: (D_in, D_out)
    -> dx = dout @ W.T: (N, D_in), dW = x.T @ dout: (D_in, D_out), db: (D_out,)."""
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


# -- im2col ----------------------------------------------------------------------------


def im2col(x: np.ndarray, k: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Unfold every k*k window of the zero-padded input into one column.

    x: (N, C, H, W) -> cols: (C*k*k, N*H'*W') with
        cols[(c*k + di)*k + dj, (n*H' + i)*W' + j] = xp[n, c, i*stride + di, j*stride + dj],
    i.e. rows ordered (c, di, dj) and columns (n, i, j), both row-major. Then a
    convolution is ``W.reshape(F, C*k*k) @ cols``, reshaped to (F, N, H', W').
    """
    N, C, H, Wd = x.shape
    Ho, Wo = _out_size(H, k, stride, padding), _out_size(Wd, k, stride, padding)
    xp = _pad(x, padding)
    cols = np.zeros((C * k * k, N * Ho * Wo), dtype=x.dtype)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                window = xp[n, :, i * stride : i * stride + k, j * stride : j * stride + k]
                cols[:, (n * Ho + i) * Wo + j] = window.reshape(-1)  # (C, k, k) row-major
    return cols


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    k: int,
    stride: int = 1,
    padding: int = 0,
) -> np.ndarray:
    """The adjoint of ``im2col``: add each column back onto its window, then drop padding.

    Overlapping windows sum, so <im2col(x), cols> == <x, col2im(cols)> for all x, cols.
    cols: (C*k*k, N*H'*W'), x_shape = (N, C, H, W) -> x: (N, C, H, W).
    """
    N, C, H, Wd = x_shape
    Ho, Wo = _out_size(H, k, stride, padding), _out_size(Wd, k, stride, padding)
    if cols.shape != (C * k * k, N * Ho * Wo):
        raise ValueError(f"cols shape {cols.shape} != {(C * k * k, N * Ho * Wo)}")
    xp = np.zeros((N, C, H + 2 * padding, Wd + 2 * padding), dtype=cols.dtype)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                window = cols[:, (n * Ho + i) * Wo + j].reshape(C, k, k)
                xp[n, :, i * stride : i * stride + k, j * stride : j * stride + k] += window
    return xp[:, :, padding : padding + H, padding : padding + Wd]


# -- grids (npcnn.im2col.Grid) ----------------------------------------------------------


def to_grid(
    x: np.ndarray, pad: int, phases: int = 1, margin: int = 0
) -> tuple[np.ndarray, int, int]:
    """Lay x out as a grid: every pixel where ``npcnn.im2col.Grid`` puts it, zeros
    elsewhere. s = phases (1 or 2, dividing H and W); each image is s*s planes of
    (H/s + pad) rows of Wq = W/s + pad floats, plane p of image n at margin + (p*N + n)*S.

    x: (N, C, H, W) -> (data: (C, margin + s*s*N*S + margin), Wq, S).
    """
    N, C, H, Wd = x.shape
    s = phases
    Wq = Wd // s + pad
    S = (H // s + pad) * Wq
    data = np.zeros((C, 2 * margin + s * s * N * S), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(Wd):
                    plane = (h % s) * s + w % s
                    q = margin + (plane * N + n) * S + (h // s) * Wq + w // s
                    data[c, q] = x[n, c, h, w]
    return data, Wq, S


def im2col_grid(
    data: np.ndarray, N: int, Wq: int, S: int, k: int, padding: int, phases: int = 1,
    margin: int = 0,
) -> np.ndarray:
    """The columns a stride-1 k x k convolution with ``padding`` reads at every grid
    position, by the grid's index arithmetic, one entry at a time.

    Position q = (plane (a, b), image n, row r, column t) is output pixel
    (s*r + a, s*t + b); its entry (c, i, j) is input pixel (s*r + a + i - padding,
    s*t + b + j - padding), found on input plane ((a + i - padding) % s, ...) at row
    r + (a + i - padding) // s, column t + (b + j - padding) // s: a flat offset from q
    that does not depend on q. For pixels it is the window ``im2col`` takes (the pads
    supply the zeros); other positions read whatever lies at that offset.

    data: (C, size) -> cols: (C*k*k, s*s*N*S), columns in body order.
    """
    C = data.shape[0]
    s = phases
    cols = np.zeros((C * k * k, s * s * N * S), dtype=data.dtype)
    for plane in range(s * s):
        a, b = divmod(plane, s)
        for q in range(plane * N * S, (plane + 1) * N * S):
            for c in range(C):
                for i in range(k):
                    for j in range(k):
                        ti, tj = a + i - padding, b + j - padding
                        src = (ti % s * s + tj % s - plane) * N * S + ti // s * Wq + tj // s
                        cols[(c * k + i) * k + j, q] = data[c, margin + q + src]
    return cols


# -- the fused first stage (npcnn.layers.ConvReLUPool) --------------------------------


def conv_relu_pool_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, padding: int
) -> np.ndarray:
    """avgpool2d(relu(conv2d(x))) with a 2x2 window: the loops above, one after another.
    x: (N, C, H, W), W: (F, C, k, k), b: (F,) -> (N, F, H'/2, W'/2)."""
    return avgpool2d_forward(relu_forward(conv2d_forward(x, W, b, 1, padding)), 2)


def conv_relu_pool_backward(
    dout: np.ndarray, x: np.ndarray, W: np.ndarray, b: np.ndarray, padding: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weight gradients of ``conv_relu_pool_forward``: dout (N, F, H'/2, W'/2)
    -> dW: (F, C, k, k), db: (F,)."""
    z = conv2d_forward(x, W, b, 1, padding)
    dz = relu_backward(avgpool2d_backward(dout, z.shape, 2), z)
    _, dW, db = conv2d_backward(dz, x, W, 1, padding)
    return dW, db


__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "linear_forward",
    "linear_backward",
    "im2col",
    "col2im",
    "to_grid",
    "im2col_grid",
    "conv_relu_pool_forward",
    "conv_relu_pool_backward",
]
