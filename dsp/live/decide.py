"""From one analysed frame to a label: gating (silence, unpitched) and smoothing (probability averaging)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol


class PointClassifier(Protocol):
    """Anything that maps one raw feature vector to class probabilities (app.bundle.Bundle does).
    A classifier that can also say a vector is unlike its training data has ``is_unknown_point(vec)``
    (the worker asks it when present)."""

    def predict_proba_point(self, vec) -> dict[str, float]: ...


@dataclass(frozen=True)
class DecisionSettings:
    """How frames become labels. Defaults: None below -60 dBFS (the feature spec's gate) or below 0.5
    pitch confidence; probabilities averaged over the last 5 frames (about 0.12 s at hop 512 and
    22050 Hz); and the label switches from one class to another only when the new class reaches a
    smoothed probability of 0.7 (hysteresis: a note's release or a frame straddling two notes,
    where the model is unsure, does not flicker to the other class). A gated frame keeps the current
    label while most of the smoothing window is still ungated, so a one-frame dip in confidence
    inside a note is not reported as silence (the end of a note is reported about 2 frames later).

    ``min_level_db``/``min_confidence``: the feature spec's own gates apply when they are stricter.
    ``min_probability`` > 0 also gives None when the winning smoothed probability is below it.
    """

    smoothing_frames: int = 5
    min_level_db: float | None = None
    min_confidence: float | None = 0.5
    min_probability: float = 0.0
    switch_probability: float = 0.7

    def __post_init__(self) -> None:
        if self.smoothing_frames < 1:
            raise ValueError(f"smoothing_frames must be at least 1, not {self.smoothing_frames}")


class Smoother:
    """Averages class probabilities over the last N frames; gated frames count as absent, so the
    window is a fixed stretch of time and a new note is not smeared by one long gone."""

    def __init__(self, frames: int) -> None:
        self._window: deque[dict[str, float] | None] = deque(maxlen=frames)

    def push(self, probabilities: dict[str, float] | None) -> dict[str, float]:
        """The average over the ungated frames of the window ({} if there are none)."""
        self._window.append(probabilities)
        present = [p for p in self._window if p is not None]
        if not present:
            return {}
        labels = {k for p in present for k in p}
        return {k: sum(p.get(k, 0.0) for p in present) / len(present) for k in sorted(labels)}

    def mostly_present(self) -> bool:
        """More than half of the window's frames passed the gates."""
        return 2 * sum(p is not None for p in self._window) > self._window.maxlen


class Decider:
    """Gated frame probabilities in, (label, smoothed probabilities) out, one frame at a time."""

    def __init__(self, settings: DecisionSettings) -> None:
        self.settings = settings
        self._smoother = Smoother(settings.smoothing_frames)
        self._novel: deque[bool] = deque(maxlen=settings.smoothing_frames)
        self._label: str | None = None
        self.unknown = False     # the last push's answer was "unlike anything trained on"

    def push(self, probabilities: dict[str, float] | None,
             novel: bool = False) -> tuple[str | None, dict[str, float]]:
        """``probabilities`` is the model's output for this frame, or None when the frame is gated;
        ``novel`` says the frame is unlike the training data (the classifier's unknown detector).
        The label is None, and ``unknown`` True, while most ungated frames of the window are novel."""
        smoothed = self._smoother.push(probabilities)
        if probabilities is not None:
            self._novel.append(novel)
        self.unknown = False
        if probabilities is None and not (self._label is not None and self._smoother.mostly_present()):
            self._label = None
            return None, {}
        if self._novel and 2 * sum(self._novel) > len(self._novel):
            self._label = None
            self.unknown = True
            return None, smoothed
        label = winner(smoothed, self.settings.min_probability)
        if (label is not None and self._label is not None and label != self._label
                and self._label in smoothed and smoothed[label] < self.settings.switch_probability):
            label = self._label
        self._label = label
        return label, smoothed


def winner(probabilities: dict[str, float], min_probability: float = 0.0) -> str | None:
    if not probabilities:
        return None
    label = max(probabilities, key=probabilities.__getitem__)
    return label if probabilities[label] >= min_probability else None
