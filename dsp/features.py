"""Feature frames for files, recordings and live input, from one code path.

A ``FeatureSpec`` (serialisable) says how to analyse; ``FeatureExtractor.analyse(y)`` and
``StreamingExtractor.push(block)`` turn audio into ``Frames``: one row per analysis frame, with the
model's input columns in ``values`` and the pitch track, level and gates beside them.

Alignment: frame k is centred on sample ``k * hop_length`` (librosa's ``center=True``, zero padded
by ``frame_length // 2`` at both ends), so a clip of n samples has ``1 + n // hop_length`` frames and
the pitch and the spectral columns of frame k describe the same ``frame_length`` samples.

One path: ``analyse(y)`` *is* the streaming extractor fed the whole clip and then finished, so a
model trained on files sees exactly the numbers it will see live. Pitch therefore comes from
``dsp.pitch.PitchTracker`` (pYIN with fixed-lag online Viterbi decoding), which agrees with offline
``dsp.pitch.pyin`` on nearly every frame (see dsp/pitch.py); the confidence column is pYIN's voiced
probability, which does not depend on decoding at all.

Columns (``FeatureSpec.columns()``), in the order of ``spec.features``:
  pitch       MIDI note number of the decoded pitch bin, also for unvoiced frames (as
              ``librosa.pyin(fill_na=None)``): finite, so a model can use it with ``confidence``.
  confidence  voiced probability 0..1.
  mfcc        mfcc0..mfcc12: Slaney mel (128 bands) of the Hann-windowed power spectrum, dB, DCT-II.
              mfcc0 is the frame's level: a model using it changes its mind when the input is quieter.
  mfcc_shape  mfcc1..mfcc12: the spectral envelope's shape without mfcc0 (FluCoMa's startCoeff 1),
              the mel bands floored 80 dB below the frame's strongest band, so a gain changes
              nothing. Not together with ``mfcc``.
  harmonics   the timbre relative to the note, from the spectrum at the decoded pitch: h1..h8 (each
              harmonic's share of the harmonic energy, dB), hcentroid (log2 of centroid / f0: how
              many harmonics up the brightness sits), oddeven (odd over even harmonics, dB),
              harmonicity (harmonic share of the energy above f0/2, dB: breath and noise lower it).
              All level-invariant, and the same instrument gives similar values at every pitch.
  centroid    spectral centroid in Hz.
  flatness    spectral flatness 0..1 (geometric / arithmetic mean of the power spectrum).
  loudness    RMS level of the frame in dBFS (a full-scale square wave is 0 dB; floor -120 dB).

Context (``FeatureSpec.context_frames`` = K > 0): every column c also gets ``c_ctx_mean`` and
``c_ctx_std``, its mean and standard deviation over the last K frames louder than the level gate
(the current one included; causal, so live input gets exactly the same numbers). A decision then
sees about 0.25 s (K = 11 at hop 512, 22050 Hz): a steady tone, a vibrato, a decaying piano note.

Gates (``Frames.usable``): a frame is usable when its level is at least ``min_loudness_db``
(default -60 dBFS: drops silence and release tails, keeps pp playing peaking well below full
scale), its confidence is at least ``min_confidence`` (default 0: unvoiced frames are kept, because
"this sounds unpitched" is itself a useful point for the classifier, as in FluCoMa's example), and
its window held no NaN/inf samples (those are zeroed before analysis so a glitch cannot poison
the tracker). Silence therefore gives frames but no usable ones; ``frame_rows`` then returns no rows
and ``clip_statistics`` raises ``NoUsableFramesError``.
"""
from __future__ import annotations

import collections
import math
import os
from dataclasses import dataclass, fields
from typing import Any, Iterable, Sequence

import numpy as np

from dsp._spectral import N_HARMONICS, N_MFCC, spectral_frame

__all__ = [
    "FEATURES", "FeatureSpec", "Frames", "FeatureExtractor", "StreamingExtractor",
    "NoUsableFramesError", "frame_rows", "clip_statistics", "STATISTICS",
]

FEATURES: dict[str, tuple[str, ...]] = {   # feature name -> its column names
    "pitch": ("pitch",),
    "confidence": ("confidence",),
    "mfcc": tuple(f"mfcc{i}" for i in range(N_MFCC)),
    "mfcc_shape": tuple(f"mfcc{i}" for i in range(1, N_MFCC)),
    "harmonics": (*(f"h{k}" for k in range(1, N_HARMONICS + 1)), "hcentroid", "oddeven", "harmonicity"),
    "centroid": ("centroid",),
    "flatness": ("flatness",),
    "loudness": ("loudness",),
}
STATISTICS = ("mean", "std", "min", "max", "median")
CONTEXT_STATISTICS = ("ctx_mean", "ctx_std")
_SPECTRAL = ("mfcc", "mfcc_shape", "centroid", "flatness", "harmonics")   # need the power spectrum
SPEC_FORMAT = "timbrel.features"
SPEC_VERSION = 1
_MAX_BLOCK = 1 << 16      # samples per internal step of StreamingExtractor.push (~3 s at 22.05 kHz)


class NoUsableFramesError(ValueError):
    """A clip has no frame that passes the gates (silent, too quiet, or unpitched)."""


@dataclass(frozen=True)
class FeatureSpec:
    """How to analyse audio; ``to_dict()``/``from_dict()`` store it inside a model bundle."""

    sr: int = 22050
    frame_length: int = 2048
    hop_length: int = 512
    fmin: float = 65.40639132514966     # C2
    fmax: float = 2093.004522404789     # C7
    features: tuple[str, ...] = ("pitch", "confidence")
    min_loudness_db: float = -60.0
    min_confidence: float = 0.0
    pitch_lag: int = 4                  # hops the streaming pitch decoder waits (latency vs agreement)
    context_frames: int = 0             # 0: each frame alone; K: add mean/std over the last K frames

    def __post_init__(self) -> None:
        feats = self.features
        if isinstance(feats, str):
            feats = tuple(f.strip() for f in feats.split(","))
        object.__setattr__(self, "features", tuple(feats))
        _check_int(self, "sr", 1000, 768000)
        _check_int(self, "frame_length", 64, 65536)
        _check_int(self, "hop_length", 1, self.frame_length)
        _check_int(self, "pitch_lag", 0, 64)
        _check_int(self, "context_frames", 0, 256)
        for name in ("fmin", "fmax", "min_loudness_db", "min_confidence"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"feature spec: {name} must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if not 0 < self.fmin < self.fmax <= self.sr / 2:
            raise ValueError(f"feature spec: need 0 < fmin < fmax <= sr/2, got fmin={self.fmin}, "
                             f"fmax={self.fmax}, sr={self.sr}")
        if self.sr / self.fmin >= self.frame_length - 1:  # pYIN needs the longest period inside a frame
            raise ValueError(f"feature spec: frame_length {self.frame_length} is too short for fmin "
                             f"{self.fmin:g} Hz at {self.sr} Hz (needs more than {self.sr / self.fmin + 1:.0f})")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"feature spec: min_confidence must be in 0..1, got {self.min_confidence}")
        if not self.features:
            raise ValueError("feature spec: choose at least one feature")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"feature spec: unknown feature(s) {', '.join(map(repr, unknown))}; "
                             f"choose from {', '.join(FEATURES)}")
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"feature spec: a feature is listed twice in {list(self.features)}")
        if "mfcc" in self.features and "mfcc_shape" in self.features:
            raise ValueError("feature spec: mfcc_shape is mfcc without mfcc0; choose one of them")

    def frame_columns(self) -> list[str]:
        """The columns each frame has on its own (``columns()`` without the context statistics)."""
        return [c for f in self.features for c in FEATURES[f]]

    def columns(self) -> list[str]:
        """One name per column of ``Frames.values``."""
        base = self.frame_columns()
        if not self.context_frames:
            return base
        return base + [f"{c}_{s}" for s in CONTEXT_STATISTICS for c in base]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": SPEC_FORMAT, "version": SPEC_VERSION}
        for f in fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureSpec":
        """Inverse of ``to_dict``; missing fields take their defaults, anything odd is a ValueError."""
        if not isinstance(d, dict):
            raise ValueError(f"feature spec: expected a JSON object, got {type(d).__name__}")
        d = dict(d)
        fmt = d.pop("format", SPEC_FORMAT)
        version = d.pop("version", SPEC_VERSION)
        if fmt != SPEC_FORMAT:
            raise ValueError(f"feature spec: format is {fmt!r}, expected {SPEC_FORMAT!r}")
        if version != SPEC_VERSION:
            raise ValueError(f"feature spec: version {version!r} is not supported (this Timbrel "
                             f"reads version {SPEC_VERSION})")
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise ValueError(f"feature spec: unknown field(s) {', '.join(extra)}")
        feats = d.get("features")
        if feats is not None:
            if not isinstance(feats, (list, tuple)) or not all(isinstance(f, str) for f in feats):
                raise ValueError(f"feature spec: features must be a list of names, got {feats!r}")
            d["features"] = tuple(feats)
        return cls(**d)


def _check_int(spec: FeatureSpec, name: str, lo: int, hi: int) -> None:
    v = getattr(spec, name)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"feature spec: {name} must be an integer in {lo}..{hi}, got {v!r}")
    object.__setattr__(spec, name, int(v))  # plain int, so to_dict() is JSON-ready


@dataclass
class Frames:
    """Every analysed frame; ``usable`` marks those that pass the gates."""

    index: np.ndarray        # (n,) int64 frame number since the start of the clip/stream
    times: np.ndarray        # (n,) float64 seconds, frame centre
    values: np.ndarray       # (n, n_columns) float64, finite: the model's input
    f0: np.ndarray           # (n,) Hz, NaN where unvoiced
    midi: np.ndarray         # (n,) MIDI pitch of the decoded bin (finite)
    confidence: np.ndarray   # (n,) voiced probability 0..1
    voiced: np.ndarray       # (n,) bool
    level_db: np.ndarray     # (n,) RMS level in dBFS
    usable: np.ndarray       # (n,) bool

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def select(self, mask: np.ndarray | Sequence[int] | slice) -> "Frames":
        """The frames picked by a boolean mask, index array or slice (arrays are copies)."""
        return Frames(**{f.name: np.array(getattr(self, f.name)[mask]) for f in fields(self)})

    @classmethod
    def empty(cls, n_columns: int) -> "Frames":
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros((0, n_columns)), np.zeros(0),
                   np.zeros(0), np.zeros(0), np.zeros(0, bool), np.zeros(0), np.zeros(0, bool))

    @classmethod
    def concatenate(cls, parts: Iterable["Frames"], n_columns: int | None = None) -> "Frames":
        """Join frames in order (e.g. the results of successive ``push`` calls)."""
        parts = list(parts)
        if not parts:
            if n_columns is None:
                raise ValueError("concatenate: no frames and no column count")
            return cls.empty(n_columns)
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})


class FeatureExtractor:
    """Analyses whole clips (arrays or files) with a ``FeatureSpec``."""

    def __init__(self, spec: FeatureSpec = FeatureSpec()):
        self.spec = spec

    def analyse(self, y: np.ndarray) -> Frames:
        """All frames of a mono clip sampled at ``spec.sr`` (may have no usable frames)."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"expected mono audio (1-D array), got shape {y.shape}")
        s = self.stream()
        head = s.push(y)
        return Frames.concatenate([head, s.finish()])

    def analyse_file(self, path: str | os.PathLike, *, require_usable: bool = False) -> Frames:
        """Decode ``path`` (dsp.audio.load at ``spec.sr``) and analyse it.

        Raises dsp.audio.AudioFileError for files that cannot be decoded, and with
        ``require_usable=True`` NoUsableFramesError (naming the file) when no frame passes the gates.
        """
        from dsp.audio import load

        frames = self.analyse(load(path, self.spec.sr))
        if require_usable and not frames.usable.any():
            raise NoUsableFramesError(f"{path}: {_no_usable_reason(frames, self.spec)}")
        return frames

    def stream(self) -> "StreamingExtractor":
        return StreamingExtractor(self.spec)


class StreamingExtractor:
    """Live analysis: ``push`` blocks of any length, get the frames they complete.

    The frames equal those of ``FeatureExtractor.analyse`` on the concatenated blocks, frame for frame
    and value for value; ``finish()`` ends the stream like the end of a file (zero padding) and
    returns the remaining frames. Memory is bounded: about one frame of audio plus the tracker's lag.
    """

    def __init__(self, spec: FeatureSpec = FeatureSpec()):
        self.spec = spec
        self._columns = spec.columns()
        self._spectral = spectral_frame(spec.sr, spec.frame_length)
        self._need_spectrum = any(f in spec.features for f in _SPECTRAL)
        self._harmonics = "harmonics" in spec.features
        self._context = _Context(spec.context_frames, spec.min_loudness_db) if spec.context_frames else None
        self._pitch = _PitchStage(spec)
        half = spec.frame_length // 2
        self._buf = np.zeros(half)             # samples from the start of the next frame on
        self._bad = np.zeros(half, bool)       # which of them were NaN/inf (then zeroed)
        self._n_in = 0                         # samples pushed so far
        self._next = 0                         # index of the next frame to compute
        # per computed frame, until its pitch arrives: (level, spectral columns, power or None, had NaN)
        self._pending: collections.deque[tuple[float, np.ndarray, np.ndarray | None, bool]] = collections.deque()
        self._finished = False

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def samples_seen(self) -> int:
        return self._n_in

    def push(self, block: np.ndarray) -> Frames:
        """Feed the next samples (mono, at ``spec.sr``); returns the frames this block completed."""
        if self._finished:
            raise RuntimeError("this stream has finished; start a new one with FeatureExtractor.stream()")
        x = np.asarray(block)
        if x.ndim != 1:
            raise ValueError(f"expected a mono block (1-D array), got shape {x.shape}")
        if x.shape[0] <= _MAX_BLOCK:
            return self._push(x)
        # A long block (a whole 10-minute file) is fed in pieces: the results are identical (the
        # stream does not depend on block sizes) and the working memory stays a few MB.
        return Frames.concatenate([self._push(x[i:i + _MAX_BLOCK])
                                   for i in range(0, x.shape[0], _MAX_BLOCK)])

    def _push(self, x: np.ndarray) -> Frames:
        if x.shape[0] == 0:
            return Frames.empty(len(self._columns))
        x = x.astype(np.float64, copy=True)
        bad = ~np.isfinite(x)
        if bad.any():
            x[bad] = 0.0
        self._n_in += x.shape[0]
        self._buf = np.concatenate([self._buf, x])
        self._bad = np.concatenate([self._bad, bad])
        self._compute_spectral(limit=None)
        return self._emit(self._pitch.push(x))

    def finish(self) -> Frames:
        """End of stream: the frames still owed, as a file ending here would give them."""
        if self._finished:
            return Frames.empty(len(self._columns))
        self._finished = True
        if self._n_in == 0:
            return Frames.empty(len(self._columns))
        half = self.spec.frame_length // 2
        self._buf = np.concatenate([self._buf, np.zeros(half)])
        self._bad = np.concatenate([self._bad, np.zeros(half, bool)])
        self._compute_spectral(limit=1 + self._n_in // self.spec.hop_length)
        return self._emit(self._pitch.finish())

    # -- internals ----------------------------------------------------------------------------
    def _compute_spectral(self, limit: int | None) -> None:
        """Compute every frame whose window is complete in the buffer (up to frame ``limit``)."""
        fl, hop = self.spec.frame_length, self.spec.hop_length
        start = 0
        while start + fl <= self._buf.shape[0] and (limit is None or self._next < limit):
            x = self._buf[start:start + fl]
            self._pending.append(self._spectral_row(x) + (bool(self._bad[start:start + fl].any()),))
            self._next += 1
            start += hop
        self._buf = self._buf[start:]
        self._bad = self._bad[start:]

    def _spectral_row(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Level and the pitch-independent spectral columns now; the power spectrum is kept only
        for the harmonic columns, which wait for the frame's pitch."""
        sp = self._spectral
        level = sp.level_db(x)
        cols: dict[str, np.ndarray | float] = {"loudness": level}
        power = None
        if self._need_spectrum:
            power = sp.spectrum(x)
            if "mfcc" in self.spec.features:
                cols["mfcc"] = sp.mfcc(power)
            if "mfcc_shape" in self.spec.features:
                cols["mfcc_shape"] = sp.mfcc_shape(power)
            cols["centroid"], cols["flatness"] = sp.centroid_flatness(power)
        parts = [np.atleast_1d(np.asarray(cols[f], dtype=np.float64))
                 for f in self.spec.features if f not in ("pitch", "confidence", "harmonics")]
        return level, (np.concatenate(parts) if parts else np.zeros(0)), (power if self._harmonics else None)

    def _emit(self, pitch: "_PitchOut") -> Frames:
        n = pitch.index.shape[0]
        if n == 0:
            return Frames.empty(len(self._columns))
        if n > len(self._pending):  # pragma: no cover - would be a bug in the alignment
            raise RuntimeError("pitch tracker is ahead of the spectral frames")
        rows = [self._pending.popleft() for _ in range(n)]
        level = np.array([r[0] for r in rows])
        had_bad = np.array([r[3] for r in rows], dtype=bool)
        midi = np.asarray(pitch.midi, dtype=np.float64)
        conf = np.asarray(pitch.confidence, dtype=np.float64)
        width = len(self.spec.frame_columns())
        values = np.empty((n, width))
        col = 0
        spectral_width = sum(len(FEATURES[f]) for f in self.spec.features
                             if f not in ("pitch", "confidence", "harmonics"))
        spec_block = np.vstack([r[1] for r in rows]) if spectral_width else np.zeros((n, 0))
        s_col = 0
        for f in self.spec.features:
            w = len(FEATURES[f])
            if f == "pitch":
                values[:, col] = midi
            elif f == "confidence":
                values[:, col] = conf
            elif f == "harmonics":
                # the decoded pitch bin is finite in unvoiced frames too: an unpitched sound is
                # described against the pitch the tracker thinks most likely
                note_hz = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
                for i, r in enumerate(rows):
                    values[i, col:col + w] = self._spectral.harmonics(r[2], note_hz[i])
            else:
                values[:, col:col + w] = spec_block[:, s_col:s_col + w]
                s_col += w
            col += w
        finite = np.isfinite(values).all(axis=1)
        values[~finite] = 0.0  # never hand a model NaN; such frames are not usable anyway
        if self._context is not None:
            values = self._context.extend(values, level)
        usable = (finite & ~had_bad & (level >= self.spec.min_loudness_db)
                  & (conf >= self.spec.min_confidence))
        index = np.asarray(pitch.index, dtype=np.int64)
        return Frames(index=index, times=index * (self.spec.hop_length / self.spec.sr), values=values,
                      f0=np.asarray(pitch.f0, dtype=np.float64), midi=midi, confidence=conf,
                      voiced=np.asarray(pitch.voiced, dtype=bool), level_db=level, usable=usable)


class _Context:
    """Running mean and std of each column over the last K frames that pass the level gate."""

    def __init__(self, frames: int, min_level_db: float) -> None:
        self._window: collections.deque[np.ndarray] = collections.deque(maxlen=frames)
        self._gated: collections.deque[bool] = collections.deque(maxlen=frames)
        self._min_level = min_level_db

    def extend(self, values: np.ndarray, level: np.ndarray) -> np.ndarray:
        n, d = values.shape
        out = np.empty((n, 3 * d))
        out[:, :d] = values
        for i in range(n):
            self._window.append(values[i])
            self._gated.append(bool(level[i] >= self._min_level))
            loud = [v for v, ok in zip(self._window, self._gated) if ok] or [values[i]]
            w = np.array(loud)
            out[i, d:2 * d] = w.mean(axis=0)
            out[i, 2 * d:] = w.std(axis=0)
        return out


@dataclass
class _PitchOut:
    index: np.ndarray
    f0: np.ndarray
    midi: np.ndarray
    confidence: np.ndarray
    voiced: np.ndarray


class _PitchStage:
    """Adapter around dsp.pitch.PitchTracker (kept in one place so its API is used only here)."""

    def __init__(self, spec: FeatureSpec):
        from dsp.pitch import PitchTracker

        self._tracker = PitchTracker(sr=spec.sr, fmin=spec.fmin, fmax=spec.fmax,
                                     frame_length=spec.frame_length, hop_length=spec.hop_length,
                                     lag=spec.pitch_lag)

    def push(self, x: np.ndarray) -> _PitchOut:
        return self._convert(self._tracker.push(x))

    def finish(self) -> _PitchOut:
        return self._convert(self._tracker.flush())

    @staticmethod
    def _convert(r: Any) -> _PitchOut:
        return _PitchOut(index=np.asarray(r.index), f0=np.asarray(r.f0), midi=np.asarray(r.midi),
                         confidence=np.asarray(r.confidence), voiced=np.asarray(r.voiced))


def frame_rows(frames: Frames, clip_id: str) -> tuple[list[str], np.ndarray]:
    """The usable frames as DataSet rows: ids ``"<clip_id>-<frame index>"`` and a (k, d) copy."""
    mask = np.asarray(frames.usable, dtype=bool)
    ids = [f"{clip_id}-{int(i)}" for i in frames.index[mask]]
    return ids, np.array(frames.values[mask], dtype=np.float64)


def clip_statistics(frames: Frames, columns: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Per-clip summary of the usable frames: mean, std, min, max, median of each column.

    Names are ``"<column>_<stat>"``, column by column (``pitch_mean, pitch_std, ..., confidence_mean``).
    Raises NoUsableFramesError when no frame is usable.
    """
    columns = list(columns)
    vals = np.asarray(frames.values, dtype=np.float64)
    if vals.ndim != 2 or vals.shape[1] != len(columns):
        raise ValueError(f"clip_statistics: {len(columns)} column names for values of shape {vals.shape}")
    rows = vals[np.asarray(frames.usable, dtype=bool)]
    if rows.shape[0] == 0:
        raise NoUsableFramesError("no usable frames (silent, too quiet or unpitched)")
    stats = np.stack([rows.mean(axis=0), rows.std(axis=0), rows.min(axis=0), rows.max(axis=0),
                      np.median(rows, axis=0)], axis=1)        # (d, 5): column-major order below
    names = [f"{c}_{s}" for c in columns for s in STATISTICS]
    return names, stats.reshape(-1)


def _no_usable_reason(frames: Frames, spec: FeatureSpec) -> str:
    if len(frames) == 0:
        return "no audio frames"
    loud = frames.level_db >= spec.min_loudness_db
    if not loud.any():
        return (f"no usable frames: every frame is quieter than {spec.min_loudness_db:g} dBFS "
                f"(loudest {frames.level_db.max():.1f} dBFS)")
    return (f"no usable frames: no frame is both louder than {spec.min_loudness_db:g} dBFS "
            f"and at least {spec.min_confidence:g} confident")
