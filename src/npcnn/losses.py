"""Losses on class scores: softmax cross-entropy and Euclidean (squared L2 to one-hot).

Both take ``scores: (N, K)`` (float32 or float64; all arithmetic stays in that dtype)
and integer ``labels: (N,)`` with values in ``[0, K)``, return the batch-mean loss as a
Python float, and keep only what ``backward`` needs. ``backward()`` returns
``dscores: (N, K)`` in the scores' dtype, the gradient of that mean loss.
Accuracy is the caller's business (``scores.argmax(1) == labels``).
"""

from __future__ import annotations

import numpy as np


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (N, K), got shape {scores.shape}")
    if not np.issubdtype(scores.dtype, np.floating):
        raise ValueError(f"scores must be floating point, got {scores.dtype}")
    if labels.shape != (scores.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape ({scores.shape[0]},), "
            f"got {labels.dtype} {labels.shape}"
        )
    # A negative label would silently index from the end of the row.
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(
            f"labels must lie in [0, {scores.shape[1]}), got {labels.min()}..{labels.max()}"
        )
    return scores, labels


class SoftmaxCrossEntropyLoss:
    """Mean softmax cross-entropy.

    Forward, with ``s = scores: (N, K)`` and ``y = labels: (N,)``:
        p_nk = exp(s_nk - m_n) / sum_j exp(s_nj - m_n),   m_n = max_j s_nj
        L = -1/N * sum_n log p_{n, y_n}
          = 1/N * sum_n (m_n + log sum_j exp(s_nj - m_n) - s_{n, y_n})
    Subtracting the row max ``m_n`` keeps every exponent <= 0, so large scores cannot
    overflow. Backward: ``dL/ds = (p - onehot(y)) / N``, shape ``(N, K)``.
    """

    def __init__(self) -> None:
        self._probs: np.ndarray | None = None  # p: (N, K)
        self._labels: np.ndarray | None = None  # y: (N,)

    def forward(self, scores: np.ndarray, labels: np.ndarray) -> float:
        scores, labels = _check(scores, labels)
        n = scores.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1)  # (N,), each >= 1 since the max term is exp(0)
        rows = np.arange(n)
        # log p_{n,y_n} from the shifted scores, not log(probs): no log(0) when p underflows
        log_p_true = shifted[rows, labels] - np.log(sum_exp)
        exp /= sum_exp[:, None]
        self._probs = exp
        self._labels = labels
        return float(-log_p_true.sum(dtype=scores.dtype) / scores.dtype.type(n))

    def backward(self) -> np.ndarray:
        if self._probs is None or self._labels is None:
            raise RuntimeError("backward() called before forward()")
        n = self._probs.shape[0]
        dscores = self._probs.copy()
        dscores[np.arange(n), self._labels] -= 1
        dscores /= self._probs.dtype.type(n)
        return dscores


class EuclideanLoss:
    """Half the batch-mean squared L2 distance from raw scores to the one-hot target.

    Forward, with ``s = scores: (N, K)`` and ``y = labels: (N,)``:
        L = 0.5/N * sum_n ||s_n - onehot(y_n)||^2
    Backward: ``dL/ds = (s - onehot(y)) / N``, shape ``(N, K)``.
    """

    def __init__(self) -> None:
        self._diff: np.ndarray | None = None  # s - onehot(y): (N, K)

    def forward(self, scores: np.ndarray, labels: np.ndarray) -> float:
        scores, labels = _check(scores, labels)
        n = scores.shape[0]
        diff = scores.copy()
        diff[np.arange(n), labels] -= 1
        self._diff = diff
        return float(np.vdot(diff, diff) / scores.dtype.type(2 * n))

    def backward(self) -> np.ndarray:
        if self._diff is None:
            raise RuntimeError("backward() called before forward()")
        return self._diff / self._diff.dtype.type(self._diff.shape[0])


_LOSSES = {"softmax": SoftmaxCrossEntropyLoss, "euclidean": EuclideanLoss}


def get_loss(name: str) -> SoftmaxCrossEntropyLoss | EuclideanLoss:
    """``"softmax"`` -> ``SoftmaxCrossEntropyLoss()``, ``"euclidean"`` -> ``EuclideanLoss()``."""
    try:
        return _LOSSES[name]()
    except KeyError:
        raise ValueError(
            f"unknown loss {name!r}; expected one of {', '.join(map(repr, _LOSSES))}"
        ) from None


__all__ = ["SoftmaxCrossEntropyLoss", "EuclideanLoss", "get_loss"]
