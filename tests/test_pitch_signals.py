"""Signals and agreement measures shared by the pitch tests (helpers only, no tests here)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
FMIN = 65.40639132514966  # C2
FMAX = 2093.004522404789  # C7
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def harmonic(f0: np.ndarray, n_harm: int = 5, amp: float = 0.5) -> np.ndarray:
    """Harmonic tone following the instantaneous frequency track f0 (Hz per sample)."""
    phase = 2 * np.pi * np.cumsum(f0) / SR
    return sum(amp / k * np.sin(k * phase) for k in range(1, n_harm + 1))


def vibrato_tone(seconds: float = 1.0, base: float = 220.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    y = harmonic(base * 2 ** (0.5 * np.sin(2 * np.pi * 5.5 * t) / 12))
    y[: SR // 10] = 0  # silence before and after: onsets and offsets
    y[-SR // 10:] = 0
    return y + 0.003 * np.random.default_rng(1).standard_normal(y.shape[0])


def glide(seconds: float = 1.0, lo: float = 90.0, hi: float = 900.0) -> np.ndarray:
    n = int(SR * seconds)
    return harmonic(np.geomspace(lo, hi, n), n_harm=4)


def pure_tone(freq: float, seconds: float = 0.6) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * freq * np.arange(int(SR * seconds)) / SR)


def agreement(ref: tuple, ours: tuple) -> dict[str, float]:
    """The issue's agreement figures between two (f0, voiced_flag, voiced_prob) triples."""
    f0_r, v_r, p_r = ref
    f0_o, v_o, p_o = ours
    both = v_r & v_o
    cents = np.abs(1200 * np.log2(f0_o[both] / f0_r[both]))
    return {
        "voicing": float(np.mean(v_r == v_o)),
        "f0_10c": float(np.mean(cents <= 10)) if both.any() else 1.0,
        "vp_max": float(np.max(np.abs(p_r - p_o))),
        "both_voiced": int(both.sum()),
    }


def _render(program: int, note: int, path: Path, seconds: float = 1.0) -> np.ndarray:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program - 1, time=0))
    track.append(mido.Message("note_on", note=note, velocity=100, time=0))
    track.append(mido.Message("note_off", note=note, velocity=0, time=int(960 * seconds)))
    midi_path = path.with_suffix(".mid")
    mid.save(midi_path)
    subprocess.run(["fluidsynth", "-ni", "-g", "0.5", "-r", str(SR), "-F", str(path),
                    str(SOUNDFONT), str(midi_path)], check=True, capture_output=True)
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == SR
    return y.mean(axis=1)[: int(SR * 1.5)]  # the note and a little of its release


def instrument_clips(assets: Path, tmp: Path) -> dict[str, np.ndarray]:
    """A few trombone (GM 57) and oboe (GM 69) notes: the bundled assets when present,
    otherwise fresh fluidsynth renders."""
    picks = ["test/fluidr3/trombone/trombone_Ab2_v80.flac", "test/fluidr3/trombone/trombone_D4_v115.flac",
             "test/fluidr3/oboe/oboe_Ab4_v80.flac", "test/fluidr3/oboe/oboe_Ab5_v115.flac"]
    if all((assets / p).exists() for p in picks):
        from dsp.audio import load

        return {Path(p).stem: load(assets / p, SR) for p in picks}
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise RuntimeError("neither assets/ clips nor fluidsynth + FluidR3_GM are available")
    notes = {"trombone_Ab2": (58, 44), "trombone_D4": (58, 62), "oboe_Ab4": (69, 68),
             "oboe_Ab5": (69, 80)}
    return {name: _render(prog, note, tmp / f"{name}.wav") for name, (prog, note) in notes.items()}
