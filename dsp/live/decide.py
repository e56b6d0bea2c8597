"""From one analysed frame to a label: gating (silence, unpitched) and smoothing (probability averaging)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol


class PointClassifier(Protocol):
    """Anything that maps one raw feature vector to class probabilities (app.bundle.Bundle does)."""

    def predict_proba_point(self, vec) -> dict[str, float]: ...


@dataclass(frozen=True)
class DecisionSettings:
    """How frames become labels. Defaults: None below -60 dBFS or below 0.5 pitch confidence, and
    probabilities averaged over the last 5 frames (about 0.12 s at hop 512 and 22050 Hz).

    ``min_level_db``/``min_confidence`` of None take the feature spec's gates when they are stricter.
    ``min_probability`` > 0 also gives None when the winning smoothed probability is below it.
    """

    smoothing_frames: int = 5
    min_level_db: float | None = None
    min_confidence: float | None = 0.5
    min_probability: float = 0.0

    def __post_init__(self) -> None:
        if self.smoothing_frames < 1:
            raise ValueError(f"smoothing_frames must be at least 1, not {self.smoothing_frames}")


class Smoother:
    """Averages class probabilities over the last N frames; gated frames count as absent, so the
    window is a fixed stretch of time and a new note is not smeared by one long gone."""

    def __init__(self, frames: int) -> None:
        self._window: deque[dict[str, float] | None] = deque(maxlen=frames)

    def push(self, probabilities: dict[str, float] | None) -> dict[str, float]:
        self._window.append(probabilities)
        present = [p for p in self._window if p is not None]
        if probabilities is None or not present:
            return {}
        labels = {k for p in present for k in p}
        return {k: sum(p.get(k, 0.0) for p in present) / len(present) for k in sorted(labels)}


def winner(probabilities: dict[str, float], min_probability: float) -> str | None:
    if not probabilities:
        return None
    label = max(probabilities, key=probabilities.__getitem__)
    return label if probabilities[label] >= min_probability else None
