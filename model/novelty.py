"""NoveltyDetector: how unlike the training data a point is, so a classifier can answer "unknown".

A classifier always names one of its classes, with a probability that describes only which side of
its boundaries the point falls on: white noise or a piano note is "trombone, 98 %" to a trombone/oboe
model. This detector keeps a sample of the (scaled) training points and scores a new point by its
mean distance to the ``num_neighbours`` nearest of them. Its threshold is set from points the model
never trained on (held-out clips), so "unknown" means "farther from the training data than new
recordings of the trained classes usually are", as in Edge Impulse's anomaly block.

Brute force over at most ``max_references`` points (a few thousand distances per point, tens of
microseconds), so live input can afford one score per frame.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["NoveltyDetector"]


class NoveltyDetector:
    """Distance to the k nearest reference points, and a threshold above which a point is novel.

    Parameters
    ----------
    num_neighbours : int
        k, the neighbours whose mean distance is the score.
    max_references : int
        At most this many training points are kept (an even, deterministic subsample).

    Examples
    --------
    >>> det = NoveltyDetector().fit(np.random.default_rng(0).normal(size=(500, 3)))
    >>> det.set_threshold(det.score(np.zeros((1, 3))), quantile=1.0)
    >>> det.is_novel_point(np.full(3, 10.0))
    True
    """

    def __init__(self, num_neighbours: int = 5, max_references: int = 2000) -> None:
        if isinstance(num_neighbours, bool) or not isinstance(num_neighbours, int) or num_neighbours < 1:
            raise ValueError(f"num_neighbours must be an integer >= 1, got {num_neighbours!r}")
        if isinstance(max_references, bool) or not isinstance(max_references, int) or max_references < 1:
            raise ValueError(f"max_references must be an integer >= 1, got {max_references!r}")
        self.num_neighbours = num_neighbours
        self.max_references = max_references
        self.references: np.ndarray | None = None
        self.threshold: float = math.inf

    @property
    def fitted(self) -> bool:
        return self.references is not None

    @property
    def n_inputs(self) -> int | None:
        return None if self.references is None else int(self.references.shape[1])

    def fit(self, points: np.ndarray) -> "NoveltyDetector":
        """Keep (a subsample of) ``points``, shape (n, d), finite; the threshold is left as it was.

        Returns
        -------
        NoveltyDetector
            self.
        """
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"novelty: need a non-empty (points, columns) array, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("novelty: the reference points contain NaN or infinity")
        if x.shape[0] > self.max_references:
            x = x[np.linspace(0, x.shape[0] - 1, self.max_references).round().astype(np.int64)]
        self.references = np.ascontiguousarray(x)
        self._norms = np.einsum("ij,ij->i", x, x)
        return self

    def score(self, points: np.ndarray) -> np.ndarray:
        """Mean distance of each row of ``points`` to its nearest reference points.

        Returns
        -------
        np.ndarray
            (n,) scores, >= 0.
        """
        if self.references is None:
            raise ValueError("novelty: not fitted")
        x = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if x.shape[1] != self.references.shape[1]:
            raise ValueError(f"novelty: expected {self.references.shape[1]} columns, got {x.shape[1]}")
        k = min(self.num_neighbours, self.references.shape[0])
        out = np.empty(x.shape[0])
        for start in range(0, x.shape[0], 512):       # bounded memory for long files
            chunk = x[start:start + 512]
            d2 = (np.einsum("ij,ij->i", chunk, chunk)[:, None] - 2.0 * chunk @ self.references.T
                  + self._norms[None, :])
            near = np.partition(np.maximum(d2, 0.0), k - 1, axis=1)[:, :k]
            out[start:start + 512] = np.sqrt(near).mean(axis=1)
        return out

    def score_point(self, vec: np.ndarray) -> float:
        return float(self.score(np.asarray(vec, dtype=np.float64).reshape(1, -1))[0])

    def set_threshold(self, known_scores: np.ndarray, quantile: float = 0.99, margin: float = 1.0) -> float:
        """Novel = a score above ``margin`` times the ``quantile`` of scores of known-class points the
        references did not include (held-out clips).

        Returns
        -------
        float
            The threshold set.
        """
        s = np.asarray(known_scores, dtype=np.float64)
        s = s[np.isfinite(s)]
        if s.size == 0:
            raise ValueError("novelty: no held-out scores to set a threshold from")
        if not 0.0 < quantile <= 1.0 or not margin > 0.0:
            raise ValueError("novelty: quantile must be in (0, 1] and margin > 0")
        self.threshold = float(np.quantile(s, quantile) * margin)
        return self.threshold

    def is_novel_point(self, vec: np.ndarray) -> bool:
        return self.score_point(vec) > self.threshold

    # ---- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if self.references is None:
            raise ValueError("novelty: not fitted")
        return {"num_neighbours": self.num_neighbours, "threshold": self.threshold,
                "cols": int(self.references.shape[1]), "references": self.references.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NoveltyDetector":
        if not isinstance(d, dict):
            raise ValueError(f"novelty: expected an object, got {type(d).__name__}")
        refs = np.asarray(d["references"], dtype=np.float64)
        if refs.ndim != 2 or refs.shape[0] == 0 or refs.shape[1] != d["cols"] or not np.isfinite(refs).all():
            raise ValueError("novelty: references must be a non-empty finite (points, cols) array")
        threshold = d["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0 \
                or math.isnan(threshold):
            raise ValueError(f"novelty: threshold must be a number > 0, got {threshold!r}")
        det = cls(num_neighbours=d.get("num_neighbours", 5), max_references=max(refs.shape[0], 1))
        det.fit(refs)
        det.threshold = float(threshold)
        return det
