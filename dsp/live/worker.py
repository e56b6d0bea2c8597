"""LiveWorker: the thread between a source's ring buffer and whoever shows the decisions.

It reads whatever audio the ring holds, resamples it to the feature spec's rate if the device runs at
another, pushes it through dsp.features' StreamingExtractor (the same code as for files), classifies
every frame, and publishes one Decision per frame to each subscriber's queue. When the source ends
(end of file, device error, no audio for ``stall_timeout_s``) it publishes a StreamEnded, closes the
source, and stops. Nothing here blocks the audio callback: the ring is the only thing they share.
"""
from __future__ import annotations

import atexit
import math
import queue
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dsp.live.decide import Decider, DecisionSettings, PointClassifier

if TYPE_CHECKING:  # imported when the worker starts, so listing devices stays light
    from dsp.features import FeatureSpec, Frames


_running: "weakref.WeakSet[LiveWorker]" = weakref.WeakSet()
_atexit_registered = False


def _stop_all() -> None:
    for worker in list(_running):
        worker.stop(timeout=2.0)


def _stop_all_at_exit() -> None:
    """Stop workers (and so their streams) at exit before anything else is torn down: registered
    after the sources' handler (at the first start), so it runs before it."""
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_stop_all)


@dataclass(frozen=True)
class Decision:
    """One analysed frame. ``time`` is the frame centre in seconds of audio since the stream started;
    ``label`` is None for silence/unpitched frames (then ``probabilities`` is empty); ``f0`` is NaN
    when unvoiced; ``latency_s`` runs from the frame's last sample entering the program to publishing."""

    time: float
    label: str | None
    probabilities: dict[str, float]
    f0: float
    midi: float
    confidence: float
    level_db: float
    latency_s: float
    unknown: bool = False     # the sound is unlike anything the model was trained on (label None)


@dataclass(frozen=True)
class StreamEnded:
    """The last item a subscriber receives. ``error`` is None for a normal end (stop, end of file)."""

    reason: str
    error: str | None = None


@dataclass
class LiveStats:
    decisions: int = 0
    overflows: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=100_000))
    # Where latency goes, per read of the ring: from the newest sample's callback to the read
    # (polling, scheduling), and from the read to the last decision published (analysis + model).
    waits: deque = field(default_factory=lambda: deque(maxlen=100_000))
    processing: deque = field(default_factory=lambda: deque(maxlen=100_000))
    # Per decision, from the newest sample read (the one that let the tracker decide) to publishing:
    # the latency beyond the pitch tracker's fixed decoding lag.
    since_newest: deque = field(default_factory=lambda: deque(maxlen=100_000))

    def latency_mean(self) -> float:
        lat = [x for x in self.latencies if math.isfinite(x)]
        return float(np.mean(lat)) if lat else math.nan

    def latency_p95(self) -> float:
        lat = [x for x in self.latencies if math.isfinite(x)]
        return float(np.percentile(lat, 95)) if lat else math.nan


class LiveWorker:
    """Analyses a source (LiveInput or FileInput) on its own thread and publishes Decisions.

    ``classifier`` is anything with ``predict_proba_point(vec) -> dict[str, float]``; ``spec`` defaults
    to ``classifier.spec`` (a Bundle has one) so live features are computed exactly as in training.
    ``record=True`` keeps the analysed audio (at the spec's rate) for ``recording()``.
    The stream ends with a device error when no audio arrives for ``stall_timeout_s`` (or, before
    the first block, ``start_timeout_s``).
    """

    def __init__(self, source, classifier: PointClassifier, spec: "FeatureSpec | None" = None,
                 settings: DecisionSettings = DecisionSettings(), *, stall_timeout_s: float = 5.0,
                 start_timeout_s: float = 10.0, poll_s: float = 0.002, record: bool = False) -> None:
        if getattr(classifier, "level", "frame") != "frame":
            raise ValueError("this model classifies whole clips; live input needs a frame-level model")
        self.source = source
        self.classifier = classifier
        self._is_unknown = getattr(classifier, "is_unknown_point", None)   # optional (PointClassifier)
        if spec is None:
            from dsp.features import FeatureSpec
            spec = getattr(classifier, "spec", None) or FeatureSpec()
        self.spec = spec
        self.settings = settings
        self.stall_timeout_s = stall_timeout_s
        self.start_timeout_s = start_timeout_s
        self.poll_s = poll_s
        self.stats = LiveStats()
        self.ended: StreamEnded | None = None
        self._min_level = max(self.spec.min_loudness_db,
                              -math.inf if settings.min_level_db is None else settings.min_level_db)
        self._min_conf = max(self.spec.min_confidence,
                             0.0 if settings.min_confidence is None else settings.min_confidence)
        self._decider = Decider(settings)
        self._subscribers: list[queue.Queue] = []
        self._sub_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._record = [] if record else None

    # ---- subscribers --------------------------------------------------------------------
    def subscribe(self, maxsize: int = 2000) -> queue.Queue:
        """A queue that receives every Decision, then one StreamEnded. When a reader falls more than
        ``maxsize`` items behind, the oldest are dropped (the reader wants the present, not a backlog)."""
        q: queue.Queue = queue.Queue(maxsize)
        with self._sub_lock:
            self._subscribers.append(q)
            if self.ended is not None:
                q.put(self.ended)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._sub_lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def _publish(self, item) -> None:
        with self._sub_lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            while True:
                try:
                    q.put_nowait(item)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass

    # ---- life cycle ---------------------------------------------------------------------
    def start(self) -> "LiveWorker":
        """Start the source and the analysis thread (source errors raise here, before any thread)."""
        if self._thread is None:
            from dsp.features import FeatureExtractor
            self._extractor = FeatureExtractor(self.spec).stream()
            self.source.start()
            _stop_all_at_exit()
            _running.add(self)
            self._thread = threading.Thread(target=self._run, name="timbrel-live-worker", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop analysing and close the source; always leaves the stream closed."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.source.close()
        _running.discard(self)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end by itself (end of file, device error); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "LiveWorker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def recording(self) -> np.ndarray:
        """The audio analysed so far, at the spec's rate (needs ``record=True``)."""
        if self._record is None:
            raise RuntimeError("LiveWorker(record=True) keeps the audio; this one did not")
        return np.concatenate(self._record) if self._record else np.zeros(0, np.float32)

    # ---- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        source, ring = self.source, self.source.ring
        sr_in, sr = float(source.samplerate), float(self.spec.sr)
        resampler = None
        if sr_in != sr:  # the device refused the spec's rate: resample here, not in the callback
            import soxr
            resampler = soxr.ResampleStream(sr_in, sr, 1, dtype="float32", quality="HQ")
        self._ratio = sr_in / sr
        buf = np.zeros(max(4096, ring.capacity // 4), dtype=np.float32)
        last_audio = time.monotonic()
        end = StreamEnded("stopped")
        try:
            while not self._stop.is_set():
                n = ring.read(buf)
                if n:
                    t_read = time.perf_counter()
                    last_audio = time.monotonic()
                    self.stats.waits.append(t_read - ring.stamp_for(ring.consumed - 1))
                    block = buf[:n]
                    if resampler is not None:
                        block = resampler.resample_chunk(block)
                    self._analyse(block)
                    self.stats.processing.append(time.perf_counter() - t_read)
                    continue
                if source.ended.is_set() and ring.available() == 0:
                    if source.error is None:  # a normal end (end of file): flush like a file's end
                        if resampler is not None:
                            self._analyse(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
                        frames = self._extractor.finish()
                        if len(frames):
                            self._decide(frames)
                    end = StreamEnded(source.reason or "ended", source.error)
                    break
                # Watchdog: a device that stops delivering (frozen server, unplugged without an error).
                # Some servers take a while to deliver the first block, hence the longer first wait.
                limit = self.stall_timeout_s if ring.written else self.start_timeout_s
                if time.monotonic() - last_audio > limit:
                    end = StreamEnded("device error", f"no audio from the input for {limit:g} s "
                                                      "(device disconnected or stalled)")
                    break
                time.sleep(self.poll_s)
        except Exception as e:  # a model or analysis failure ends the stream with the reason, not a crash
            end = StreamEnded("analysis error", f"live analysis failed: {type(e).__name__}: {e}")
        finally:
            if end.error is None and self._stop.is_set():
                end = StreamEnded("stopped")
            source.close()
            if end.error is None and source.error is not None:  # closing revealed a failure
                end = StreamEnded(source.reason, source.error)
            self.stats.overflows = source.overflows
            with self._sub_lock:
                self.ended = end
            self._publish(end)

    def _analyse(self, block: np.ndarray) -> None:
        if self._record is not None and len(block):
            self._record.append(block.copy())
        frames = self._extractor.push(block)
        if len(frames):
            self._decide(frames)

    def _decide(self, frames: "Frames") -> None:
        spec, ring = self.spec, self.source.ring
        half = spec.frame_length // 2
        newest = ring.stamp_for(ring.consumed - 1)
        for i in range(len(frames)):
            level, conf = float(frames.level_db[i]), float(frames.confidence[i])
            gated = not (bool(frames.usable[i]) and level >= self._min_level and conf >= self._min_conf)
            probs = None if gated else self.classifier.predict_proba_point(frames.values[i])
            novel = not gated and self._is_unknown is not None and bool(self._is_unknown(frames.values[i]))
            label, smoothed = self._decider.push(probs, novel)
            # The frame's last sample (centred frames) in the source's own sample count.
            last = round(float(frames.times[i]) * spec.sr) + half - 1
            stamp = ring.stamp_for(int(last * self._ratio))
            now = time.perf_counter()
            latency = now - stamp if math.isfinite(stamp) else math.nan
            self.stats.decisions += 1
            self.stats.latencies.append(latency)
            self.stats.since_newest.append(now - newest)
            self._publish(Decision(float(frames.times[i]), label, smoothed,
                                   float(frames.f0[i]), float(frames.midi[i]), conf, level, latency,
                                   self._decider.unknown))
