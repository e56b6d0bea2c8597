"""Does a model recognise the instrument, not the recording? Leave-one-source-out on the bundled demo.

Trains on one sample set's training notes (assets/train/<source>) and tests on the *other* sample
set's test notes (assets/test/<other>): other notes and another source, never a frame of a training
clip. Prints, per direction and per configuration (feature groups, augmentation on/off):

- per-clip accuracy, overall and inside the shared register B♭3–F5 (where pitch cannot decide);
- calibration: expected calibration error (10 bands) and the accuracy of clips called at >= 0.9;
- level invariance: the share of test clips given the same label at -20 dB and peak-normalised;
- the unknown answer: real notes called unknown, and non-instrument probes (white noise, a sine
  sweep, formant noise, piano notes) called unknown;
- training time (analysis of the augmented copies included).

Usage: .venv/bin/python benchmarks/bench_generalise.py [--quick]   (--quick: the default configuration only)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.analysis import analyse_paths                      # noqa: E402
from app.demo import DEMO_CONTEXT, DEMO_FEATURES            # noqa: E402
from app.generalise import train_bundle_robust              # noqa: E402
from app.training import TrainSettings                      # noqa: E402
from dsp.audio import load                                  # noqa: E402
from dsp.augment import AugmentSettings                     # noqa: E402
from dsp.features import FeatureSpec                        # noqa: E402

ASSETS = ROOT / "assets"
SOURCES = ("fluidr3", "timgm6mb")
SHARED = (58, 77)            # B♭3..F5 in MIDI: both instruments play there


def probes(sr: int) -> dict[str, np.ndarray]:
    """Sounds that are no trombone or oboe: a model should call them unknown."""
    from scipy.signal import lfilter
    rng = np.random.default_rng(7)
    t = np.arange(int(1.5 * sr)) / sr
    out = {"white noise": 0.3 * rng.standard_normal(t.size)}
    f = 100.0 * 20.0 ** (t / 1.5)
    out["sine sweep 100 Hz-2 kHz"] = 0.5 * np.sin(2 * np.pi * np.cumsum(f) / sr)
    noise = rng.standard_normal(t.size)
    formant = np.zeros(t.size)
    for fc, bw in ((700, 110), (1220, 120), (2600, 160)):       # an /a/-like vowel, whispered
        r, th = np.exp(-np.pi * bw / sr), 2 * np.pi * fc / sr
        formant += lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], noise)
    out["formant noise"] = 0.5 * formant / np.abs(formant).max()
    for midi in (48, 60, 72):                                    # a struck, decaying harmonic tone
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        partials = sum(np.sin(2 * np.pi * k * f0 * np.sqrt(1 + 0.0004 * k * k) * t) / k
                       * np.exp(-t * (1.5 + 0.6 * k)) for k in range(1, 16))
        out[f"piano-like note {midi}"] = 0.5 * partials / np.abs(partials).max()
    return out


def per_clip(bundle, audio: list[tuple[np.ndarray, str, int]]) -> list[tuple[str, str | None, float, bool]]:
    """(truth, best label, confidence, unknown) per clip; clips with no usable frame are left out."""
    out = []
    ex = bundle.extractor()
    for y, truth, _ in audio:
        try:
            p = bundle.predict_frames(ex.analyse(y))
        except ValueError:
            continue
        out.append((truth, p.best, p.confidence, p.unknown))
    return out


def ece(conf: np.ndarray, ok: np.ndarray, bands: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bands + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf >= lo) & (conf < hi if hi < 1 else conf <= hi)
        if m.any():
            total += m.mean() * abs(ok[m].mean() - conf[m].mean())
    return total


def midi_of(path: Path) -> int:
    names = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
    note = path.stem.split("_")[1]
    return names.index(note[:-1]) + 12 * (int(note[-1]) + 1)


def run(features: tuple[str, ...], context: int, augment: bool, probe_audio, seed: int = 0) -> list[str]:
    spec = FeatureSpec(features=features, context_frames=context)
    rows = []
    for train_src, test_src in (SOURCES, SOURCES[::-1]):
        train = analyse_paths([ASSETS / "train" / train_src], spec)
        test_files = sorted((ASSETS / "test" / test_src).rglob("*.flac"))
        audio = [(load(f, spec.sr), f.parent.name, midi_of(f)) for f in test_files]
        t0 = time.perf_counter()
        bundle, _ = train_bundle_robust(train, TrainSettings(seed=seed),
                                        augment=AugmentSettings(copies=3 if augment else 0))
        seconds = time.perf_counter() - t0
        res = per_clip(bundle, audio)
        truth = np.array([r[0] for r in res])
        best = np.array([r[1] for r in res])
        conf = np.array([r[2] for r in res])
        unk = np.array([r[3] for r in res])
        ok = truth == best
        shared = np.array([SHARED[0] <= m <= SHARED[1] for (_, _, m) in audio])[: len(res)]
        quiet = per_clip(bundle, [(y * 0.1, t, m) for y, t, m in audio])
        loud = per_clip(bundle, [(y / max(np.abs(y).max(), 1e-9), t, m) for y, t, m in audio])
        same20 = np.mean([a[1] == b[1] for a, b in zip(res, quiet)])
        same_pk = np.mean([a[1] == b[1] for a, b in zip(res, loud)])
        hi = conf >= 0.9
        ex = bundle.extractor()
        probe_unknown = []
        for name, y in probe_audio.items():
            try:
                probe_unknown.append(bundle.predict_frames(ex.analyse(y)).unknown)
            except ValueError:                 # nothing usable: no label either
                probe_unknown.append(True)
        rows.append(
            f"| {'+'.join(features)}{f' ctx{context}' if context else ''} | {'on' if augment else 'off'} "
            f"| {train_src}→{test_src} | {ok.mean():.1%} ({ok.sum()}/{ok.size}) | {ok[shared].mean():.1%} "
            f"| {ece(conf, ok):.3f} | {ok[hi].mean() if hi.any() else float('nan'):.1%} of {hi.sum()} "
            f"| {same20:.1%} / {same_pk:.1%} | {unk.mean():.1%} | {sum(probe_unknown)}/{len(probe_unknown)} "
            f"| {seconds:.1f} s |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the default configuration")
    args = ap.parse_args()
    sr = FeatureSpec().sr
    probe_audio = probes(sr)
    configs = [(DEMO_FEATURES, DEMO_CONTEXT, True)]
    if not args.quick:
        configs += [
            (DEMO_FEATURES, DEMO_CONTEXT, False),
            (("pitch", "confidence"), 0, True),
            (("pitch", "confidence", "mfcc"), 0, False),          # the old default
            (("pitch", "confidence", "mfcc"), 0, True),
            (("pitch", "confidence", "mfcc_shape"), 0, True),
            (("pitch", "confidence", "mfcc_shape", "harmonics"), 0, True),
            (("pitch", "confidence", "harmonics"), DEMO_CONTEXT, True),
        ]
    print("| features | augment | train→test | per clip | shared register | ECE | right at ≥0.9 "
          "| same label −20 dB / peak | real notes unknown | probes unknown | train time |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for features, context, augment in configs:
        for row in run(tuple(features), context, augment, probe_audio):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
