"""The GUI's thin handle on dsp.live: one source + one LiveWorker + the queue the panel drains.

Nothing here runs audio or analysis on the GUI thread: LiveInput's PortAudio callback and the
LiveWorker thread do; the GUI polls `queue` from a timer.
"""
from __future__ import annotations

import queue
from typing import Any

from dsp.live import FileInput, LiveInput, LiveWorker, StreamEnded, list_input_devices


def input_devices() -> list:
    """Input devices, or an exception whose message says why there are none."""
    return list_input_devices()


class NullClassifier:
    """For recording without a model: the worker still measures level and pitch, labels nothing."""

    level = "frame"

    def __init__(self, spec: Any):
        self.spec = spec
        self.labels: list[str] = []

    def predict_proba_point(self, vec) -> dict[str, float]:
        return {}


class LiveSession:
    """source_desc: ("device", index_or_None) or ("file", path, realtime)."""

    def __init__(self, source_desc: tuple, classifier: Any, *, record: bool = False):
        self.source_desc = source_desc
        spec = classifier.spec
        if source_desc[0] == "file":
            source = FileInput(source_desc[1], spec.sr, realtime=bool(source_desc[2]))
        else:
            source = LiveInput(source_desc[1], samplerate=spec.sr, blocksize=256)
        self.worker = LiveWorker(source, classifier, record=record)
        self.queue: queue.Queue = self.worker.subscribe()
        self._end: StreamEnded | None = None
        self.worker.start()

    def ended(self) -> bool:
        return self.worker.ended is not None

    def end_reason(self) -> str | None:
        """A plain-words reason when the stream ended by an error, else None."""
        end = self.worker.ended
        return None if end is None else end.error

    def recording(self):
        return self.worker.recording()

    def close(self) -> None:
        self.worker.stop()
