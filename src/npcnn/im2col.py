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

Grids. Copying a window view into columns moves rows of only W' floats at a time, so
the copy costs more than the matmul it feeds. A ``Grid`` stores a channel-major batch
flat, with zero pads *shared* between neighbours (the pad after a row is the pad before
the next; after an image, before the next image): then a window offset (i, j) is one
shift of the flat index, every im2col row is a contiguous slice of the grid, and a
stride-1 convolution computed for every grid position (pads included, ~7-15% extra
columns whose results are ignored) needs one block copy per im2col row block
(``GridConv``). A grid may also hold each image as four phase planes (pixels with even
or odd row and column), so that a following 2x2 pooling adds whole planes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from npcnn import thin


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


# Images per block in ``conv_cm`` and ``GridConv``: enough for ~1 MiB of float32
# columns, which stay in cache between being written and being read by the matmul
# (~15-25% faster than unfolding the whole batch first, measured at C=4 and C=16; on
# grids 2^17..2^20 are within a few %, and the backward unfolds each block again
# rather than keeping the whole batch's columns).
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


# -- grids: flat layouts with shared zero pads ----------------------------------------
@dataclass(frozen=True)
class Grid:
    """Where a channel-major batch (C, N, H, W) lives in a flat buffer ``data: (C, size)``.

    Each image is ``phases**2`` planes: plane (a, b) holds the pixels with h % phases == a
    and w % phases == b (phases = 1: the image itself). Plane (a, b) of every image comes
    before plane (a, b + 1) of any: plane p of image n starts at ``margin + (p*N + n)*S``.
    A plane has ``Hq = H/phases + pad`` rows of ``Wq = W/phases + pad`` floats, so every
    row ends in ``pad`` columns and every plane in ``pad`` rows that are padding, and
    ``margin`` floats of padding come before the first and after the last plane::

        pixel (c, n, h, w) -> data[c, margin + ((h%s*s + w%s)*N + n)*S + (h//s)*Wq + w//s]

    The padding of an input grid is zero: a convolution reads it as its zero padding on
    both sides (what lies left of a row is the end of the row before). An output
    computed at every grid position has leftovers there instead ("garbage").
    """

    N: int
    H: int
    W: int
    pad: int
    phases: int = 1
    margin: int = 0

    def __post_init__(self) -> None:
        if self.phases not in (1, 2) or self.H % self.phases or self.W % self.phases:
            raise ValueError(f"phases {self.phases} must be 1 or 2 and divide {self.H}x{self.W}")

    @property
    def Wq(self) -> int:
        return self.W // self.phases + self.pad

    @property
    def S(self) -> int:
        """Floats per plane of one image."""
        return (self.H // self.phases + self.pad) * self.Wq

    @property
    def body(self) -> int:
        """Floats of all planes of all images (the positions a convolution computes)."""
        return self.phases ** 2 * self.N * self.S

    @property
    def size(self) -> int:
        return self.body + 2 * self.margin

    def planes(self, data: np.ndarray) -> np.ndarray:
        """data: (C, size) -> view (C, s, s, N, Hq, Wq) of the body, s = phases."""
        s, C = self.phases, data.shape[0]
        body = data[:, self.margin:self.margin + self.body]
        return body.reshape(C, s, s, self.N, self.S // self.Wq, self.Wq)

    def interior(self, data: np.ndarray) -> np.ndarray:
        """data: (C, size) -> view (C, s, s, N, H/s, W/s) of the pixels."""
        s = self.phases
        return self.planes(data)[..., :self.H // s, :self.W // s]

    def split(self, x: np.ndarray) -> np.ndarray:
        """x: (C, N, H, W) -> view (C, s, s, N, H/s, W/s) in ``interior``'s order."""
        s, (C, N, H, W) = self.phases, x.shape
        return x.reshape(C, N, H // s, s, W // s, s).transpose(0, 3, 5, 1, 2, 4)

    def put(self, data: np.ndarray, x: np.ndarray) -> None:
        """Write x: (C, N, H, W) onto the pixels of ``data`` (the padding is untouched)."""
        np.copyto(self.interior(data), self.split(x))

    def get(self, data: np.ndarray) -> np.ndarray:
        """The pixels of ``data`` as a new (C, N, H, W) array."""
        out = np.empty((data.shape[0], self.N, self.H, self.W), data.dtype)
        np.copyto(self.split(out), self.interior(data))
        return out

    def mask(self, value: float, dtype) -> np.ndarray:
        """(body,): ``value`` at pixels, 0 on the padding."""
        m = np.zeros((1, self.size), dtype)
        self.interior(m)[...] = value
        return m[0, self.margin:self.margin + self.body]


def conv_grid(N: int, H: int, W: int, k: int, padding: int, phases: int = 1,
              pad: int = 0) -> Grid:
    """The input grid of a stride-1 k x k convolution with ``padding`` <= k - 1.

    Windows reach ``padding`` pixels beyond the image on each side (the output is at most
    W wide), and so does the rotated window of the input gradient; so ``pad`` must be at
    least ``padding`` on one plane, ``ceil(padding/2)`` on phase planes (``pad`` asks for
    more). The margin covers the farthest offset of either window from the first and
    the last plane, so the forward and the input gradient both run on this grid.
    """
    if not 0 <= padding <= k - 1:
        raise ValueError(f"a grid needs 0 <= padding <= k - 1, got k={k}, padding={padding}")
    if phases == 2 and k != 2 * padding + 1:
        raise ValueError("phase planes need a 'same' convolution, k = 2*padding + 1")
    need = padding if phases == 1 else -(-padding // 2)
    q = max(need, pad)
    reach = max(padding, k - 1 - padding) if phases == 1 else need
    return Grid(N, H, W, q, phases, reach * (W // phases + q + 1))


class GridConv:
    """im2col over every position of a grid, one block of images at a time, with all
    views built once: running it is only the block copies and the matmuls.

    data: (C, grid.size), the input with zero padding; the window is k x k with
    ``padding`` (stride 1; the grid's phases as ``conv_grid`` allows). cols: (R, P*B*S)
    scratch for blocks of B images, P = phases**2 planes (S = grid.S): a block's columns
    are its images' positions on plane 0, then on plane 1, ...; rows (c, i, j) < C*k*k
    are the unfolded block, rows beyond are left as they are (e.g. ones meeting the
    bias column of a weight matrix). Block i covers images ``blocks[i][2:4]``.
    """

    def __init__(self, data: np.ndarray, grid: Grid, k: int, padding: int,
                 cols: np.ndarray) -> None:
        self.refs = (data, cols)  # the views below point into these
        g, S, P = grid, grid.S, grid.phases ** 2
        step = cols.shape[1] // (P * S)
        self.grid, self.blocks = g, []
        for a in range(0, g.N, step):
            b = min(g.N, a + step)
            L = (b - a) * S
            block = cols[:, :P * L]
            copies = [c for plane in range(P) for c in _unfold_copies(
                data, g, k, padding, plane, (plane * g.N + a) * S, block[:, plane * L:][:, :L])]
            self.blocks.append((copies, block, a, b))

    def unfold(self, i: int) -> tuple[np.ndarray, int, int]:
        """Fill the columns of block i: (cols view, its first and end image)."""
        copies, block, a, b = self.blocks[i]
        for dst, src in copies:
            np.copyto(dst, src)
        return block, a, b

    def columns(self, a: int, b: int) -> slice:
        """The grid columns of images a..b on one plane (phases = 1: all of theirs)."""
        g = self.grid
        return slice(g.margin + a * g.S, g.margin + b * g.S)

    def forward(self, mat: np.ndarray, out: np.ndarray) -> None:
        """out[:, body] = mat @ im2col(data); mat: (M, R), out: (M, grid.size).
        One plane per image (the output of a block is then contiguous)."""
        assert self.grid.phases == 1
        for i in range(len(self.blocks)):
            block, a, b = self.unfold(i)
            np.matmul(mat, block, out=out[:, self.columns(a, b)])


def grid_conv_backward(x: GridConv, dout: np.ndarray, g_t: np.ndarray, tmp: np.ndarray,
                       d: GridConv | None = None, w_rot: np.ndarray | None = None,
                       dx: np.ndarray | None = None) -> None:
    """Both gradients of a grid convolution (one plane per image), block by block (each
    block's columns are unfolded again rather than kept: they stay in cache, the whole
    batch's would not).

    x: the forward's ``GridConv``; dout: (F, size) on the same grid, zero on its
    padding; g_t: (R, F) receives ``cols @ dout.T`` (tmp: same shape, scratch). With d
    (the unfolding of dout by the rotated window, same blocks), w_rot: (C, F*k*k) and
    dx: (C, size): ``dx = w_rot @ im2col(dout)`` too.
    """
    for i in range(len(x.blocks)):
        block, a, b = x.unfold(i)
        cols = x.columns(a, b)
        # A thin product (R x P x F with P long): in pieces where the BLAS has a kernel
        # for them (npcnn.thin).
        thin.matmul(block, dout[:, cols].T, g_t, tmp, add=bool(i))
        if d is not None:
            np.matmul(w_rot, d.unfold(i)[0], out=dx[:, cols])


def _unfold_copies(data: np.ndarray, g: Grid, k: int, p: int, plane: int, q0: int,
                   block: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(destination, source) views that fill block[:C*k*k]: the im2col rows (c, i, j) of
    the positions q0 .. q0 + L of output plane ``plane`` (L = block width).

    Output pixel (h, w) of phase (a, b) reads input pixel (h + i - p, w + j - p): on
    input phase ((a + i - p) % s, ...) at a row shift of (a + i - p) // s. The kernel
    rows i with the same input phase form a step-s progression whose shifts step by 1,
    so one strided view per input phase covers them: s*s copies per block (one if s=1).
    """
    s, C, L = g.phases, data.shape[0], block.shape[1]
    assert data.strides[1] == data.itemsize, "grid rows must be contiguous"
    a, b = divmod(plane, s)
    rows = block[:C * k * k].reshape(C, k, k, L)
    item, copies = data.itemsize, []
    for a2 in range(s):
        i0 = (a2 - a + p) % s  # first kernel row reading input phase a2
        di = (a + i0 - p - a2) // s  # its row shift
        for b2 in range(s):
            j0 = (b2 - b + p) % s
            dj = (b + j0 - p - b2) // s
            ni, nj = len(range(i0, k, s)), len(range(j0, k, s))
            if not ni or not nj:
                continue
            start = g.margin + q0 + (a2 * s + b2 - plane) * g.N * g.S + di * g.Wq + dj
            last = start + (ni - 1) * g.Wq + nj - 1 + L - 1
            assert 0 <= start and last < data.shape[1], "window runs off the grid"
            src = as_strided(data[:, start:], shape=(C, ni, nj, L),
                             strides=(data.strides[0], g.Wq * item, item, item),
                             writeable=False)
            copies.append((rows[:, i0::s, j0::s], src))
    return copies
