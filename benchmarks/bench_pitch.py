"""Pitch tracking cost and agreement: dsp.pitch vs librosa.pyin, Praat and swift-f0.

    .venv/bin/python benchmarks/bench_pitch.py [--seconds 60] [--repeats 3]

Audio: `--seconds` of real instrument notes, the bundled assets/ clips when present, else
fluidsynth renders of General MIDI trombone and oboe notes. Every tracker runs on the same
float32 audio at 22050 Hz (fmin C2, fmax C7, frame 2048, hop 512) after a warm-up; the figure
is CPU seconds (process time, all threads) per second of audio, best of `--repeats`
(librosa.pyin runs once: it is the slow one). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.pitch import PitchTracker, pyin  # noqa: E402

SR, FRAME, HOP = 22050, 2048, 512
FMIN, FMAX = 65.40639132514966, 2093.004522404789
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def instrument_audio(seconds: float) -> tuple[np.ndarray, str]:
    clips = sorted((ROOT / "assets").glob("*/*/*.flac"))
    if clips:
        from dsp.audio import load

        parts, total = [], 0
        for path in clips:
            parts.append(load(path, SR))
            total += parts[-1].shape[0]
            if total >= seconds * SR:
                break
        source = f"{len(parts)} clips from assets/"
    else:
        parts = _renders(seconds)
        source = "fluidsynth renders (FluidR3_GM trombone + oboe)"
    y = np.concatenate(parts)
    while y.shape[0] < seconds * SR:  # too few clips: loop them
        y = np.concatenate([y, y])
    return np.ascontiguousarray(y[: int(seconds * SR)], dtype=np.float32), source


def _renders(seconds: float) -> list[np.ndarray]:
    import mido
    import soundfile as sf

    parts: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        notes = [(58, n) for n in range(40, 68, 3)] + [(69, n) for n in range(58, 91, 3)]
        for i, (program, note) in enumerate(notes):
            mid = mido.MidiFile(ticks_per_beat=480)
            track = mido.MidiTrack()
            mid.tracks.append(track)
            track.append(mido.Message("program_change", program=program - 1, time=0))
            track.append(mido.Message("note_on", note=note, velocity=90, time=0))
            track.append(mido.Message("note_off", note=note, velocity=0, time=1200))
            mid.save(f"{tmp}/{i}.mid")
            subprocess.run(["fluidsynth", "-ni", "-g", "0.5", "-r", str(SR), "-F",
                            f"{tmp}/{i}.wav", SOUNDFONT, f"{tmp}/{i}.mid"], check=True,
                           capture_output=True)
            y, _ = sf.read(f"{tmp}/{i}.wav", dtype="float32", always_2d=True)
            parts.append(y.mean(axis=1)[: int(1.6 * SR)])
    reps = int(np.ceil(seconds * SR / sum(p.shape[0] for p in parts)))
    return parts * reps


def cpu(fn, repeats: int):
    """(best CPU seconds, result) over `repeats` calls."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def agreement(ref, ours) -> dict[str, float]:
    both = ref[1] & ours[1]
    cents = np.abs(1200 * np.log2(ours[0][both] / ref[0][both]))
    return {"voicing": float(np.mean(ref[1] == ours[1])),
            "f0": float(np.mean(cents <= 10)) if both.any() else 1.0,
            "vp": float(np.max(np.abs(ref[2] - ours[2]))),
            "identical": float(np.mean((ref[1] == ours[1]) & ((ref[0] == ours[0]) | ~both)))}


def stream_all(y: np.ndarray, tracker: PitchTracker, block: int):
    outs = [tracker.push(y[i:i + block]) for i in range(0, y.shape[0], block)]
    outs.append(tracker.flush())
    return outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import librosa

    y, source = instrument_audio(args.seconds)
    dur = y.shape[0] / SR
    kw = dict(sr=SR, fmin=FMIN, fmax=FMAX, frame_length=FRAME, hop_length=HOP)
    warm = y[: 3 * SR]
    librosa.pyin(warm, **kw)
    pyin(warm, **kw)

    rows = []
    t_lib, ref = cpu(lambda: librosa.pyin(y, **kw), 1)
    rows.append(("librosa.pyin 0.11 (reference)", t_lib, ""))
    t_ours, ours = cpu(lambda: pyin(y, **kw), args.repeats)
    rows.append(("timbrel dsp.pitch.pyin", t_ours, f"{t_lib / t_ours:.0f}x faster than librosa"))

    tracker = PitchTracker(SR, FMIN, FMAX, FRAME, HOP)
    stream_all(warm, tracker, HOP)
    t_stream, outs = cpu(lambda: stream_all(y, tracker, HOP), args.repeats)
    n_blocks = int(np.ceil(y.shape[0] / HOP))
    per_block = t_stream / n_blocks
    rows.append((f"timbrel PitchTracker, {HOP}-sample blocks (lag {tracker.lag})", t_stream,
                 f"{per_block * 1e6:.0f} us per block = {100 * per_block / (HOP / SR):.2f} % "
                 "of real time"))
    s_voiced = np.concatenate([o.voiced for o in outs])
    s_f0 = np.concatenate([o.best_f0 for o in outs])

    try:
        import parselmouth

        snd = parselmouth.Sound(y.astype(np.float64), sampling_frequency=SR)
        snd.to_pitch(time_step=HOP / SR, pitch_floor=FMIN, pitch_ceiling=FMAX)
        t_praat, _ = cpu(lambda: snd.to_pitch(time_step=HOP / SR, pitch_floor=FMIN,
                                              pitch_ceiling=FMAX), args.repeats)
        rows.append(("Praat (praat-parselmouth) to_pitch, ac", t_praat, ""))
    except ImportError:
        pass
    try:
        from swift_f0 import SwiftF0

        det = SwiftF0(threads=1)
        det.detect(warm, SR, fmin=FMIN, fmax=FMAX)
        t_swift, _ = cpu(lambda: det.detect(y, SR, fmin=FMIN, fmax=FMAX), args.repeats)
        rows.append(("swift-f0 (1 thread, incl. resampling to 16 kHz)", t_swift, ""))
    except ImportError:
        pass

    a = agreement(ref, ours)
    best_ref = librosa.pyin(y, **kw, fill_na=None)[0]
    both = s_voiced & ref[1]
    s_cents = np.abs(1200 * np.log2(s_f0 / best_ref))

    print(f"\nAudio: {dur:.1f} s of instrument notes ({source}), {SR} Hz float32, "
          f"fmin C2, fmax C7, frame {FRAME}, hop {HOP}; {len(ref[1])} frames.\n")
    print("| pitch tracker | CPU ms per s of audio | notes |")
    print("| --- | ---: | --- |")
    for name, t, note in rows:
        print(f"| {name} | {1000 * t / dur:.2f} | {note} |")
    print(f"\nAgreement with librosa.pyin (targets: f0 >= 99.5 %, voicing >= 99 %, "
          f"voiced_prob within 0.02):")
    print(f"- pyin: f0 within 10 cents on {100 * a['f0']:.2f} % of both-voiced frames, voicing "
          f"equal on {100 * a['voicing']:.2f} %, max |voiced_prob difference| "
          f"{a['vp']:.1e}, identical output on {100 * a['identical']:.2f} % of frames")
    print(f"- PitchTracker (lag {tracker.lag}) vs offline: voicing equal on "
          f"{100 * np.mean(s_voiced == ref[1]):.2f} %, f0 within 10 cents on "
          f"{100 * np.mean(s_cents[both] <= 10):.2f} % of both-voiced frames and "
          f"{100 * np.mean(s_cents <= 10):.2f} % of all frames (best guess where unvoiced)")


if __name__ == "__main__":
    main()
