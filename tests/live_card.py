"""Test harness for live input through a real PortAudio stream on the virtual sound card.

scripts/test sources scripts/virtual-soundcard (PulseAudio with a null sink whose monitor is the
default source). Each live test gets its own null sink on that daemon and points PortAudio's
"default" input at its monitor (PULSE_SOURCE), so tests running in parallel — or another program
playing into vsink — cannot leak into each other's recordings. Audio is played with paplay, so what
the test records went through PulseAudio and PortAudio exactly as a microphone's would.

When the card is not reachable the tests fail with the reason; they never skip.
"""
from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
_sink_ids = itertools.count()


def require_card() -> None:
    """Fail (never skip) with the reason when the virtual sound card is not reachable."""
    how = "run the tests with scripts/test, or `source scripts/virtual-soundcard start` first"
    for tool in ("pactl", "paplay", "pulseaudio"):
        if shutil.which(tool) is None:
            pytest.fail(f"virtual sound card: `{tool}` is not installed ({how})")
    if not os.environ.get("XDG_RUNTIME_DIR"):
        pytest.fail(f"virtual sound card: XDG_RUNTIME_DIR is not set, so PortAudio cannot see it ({how})")
    info = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=10)
    if info.returncode != 0:
        pytest.fail(f"virtual sound card: no PulseAudio server at {os.environ['XDG_RUNTIME_DIR']} "
                    f"({info.stderr.strip() or info.stdout.strip()}); {how}")
    from dsp.live import LiveInputError, list_input_devices
    try:
        names = [d.name for d in list_input_devices()]
    except LiveInputError as e:
        pytest.fail(f"virtual sound card: {e}")
    if "default" not in names:
        pytest.fail(f"virtual sound card: PortAudio does not list the 'default' input (it lists {names}); "
                    "PulseAudio must have been running, with the same XDG_RUNTIME_DIR, before sounddevice "
                    f"was imported ({how})")


@contextmanager
def private_sink() -> Iterator[str]:
    """A null sink of our own on the running daemon; PortAudio's default input records its monitor."""
    require_card()
    name = f"timbrel_test_{os.getpid()}_{next(_sink_ids)}"
    out = subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={name}", "rate=48000"],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        pytest.fail(f"virtual sound card: cannot add a null sink: {out.stderr.strip()}")
    module = out.stdout.strip()
    old = os.environ.get("PULSE_SOURCE")
    os.environ["PULSE_SOURCE"] = f"{name}.monitor"  # read by libpulse when PortAudio opens the stream
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop("PULSE_SOURCE", None)
        else:
            os.environ["PULSE_SOURCE"] = old
        subprocess.run(["pactl", "unload-module", module], capture_output=True, timeout=10)


def play(sink: str, path: Path) -> None:
    """Play a file into ``sink`` and wait until it has been played."""
    out = subprocess.run(["paplay", f"--device={sink}", str(path)], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        pytest.fail(f"paplay {path} failed: {out.stderr.strip()}")


@contextmanager
def private_daemon() -> Iterator[subprocess.Popen]:
    """A PulseAudio daemon of our own (to kill or freeze mid-stream); PortAudio's default input
    connects to it (PULSE_SERVER) for streams opened inside the block."""
    require_card()
    runtime = tempfile.mkdtemp(prefix="timbrel-pulse-test-")
    os.chmod(runtime, 0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
    env.pop("PULSE_SERVER", None)
    env.pop("PULSE_SOURCE", None)
    proc = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
         "--load=module-native-protocol-unix", "--load=module-null-sink sink_name=vsink rate=48000",
         "--load=module-always-sink", "--log-target=stderr"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_SOURCE")}
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail("a private PulseAudio daemon for the device-error test did not start")
        subprocess.run(["pactl", "set-default-source", "vsink.monitor"], env=env, check=True)
        os.environ["PULSE_SERVER"] = f"unix:{runtime}/pulse/native"
        os.environ.pop("PULSE_SOURCE", None)
        yield proc
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.kill()
        proc.wait(10)
        shutil.rmtree(runtime, ignore_errors=True)


def note_sequence(out: Path, silence_s: float = 1.5) -> tuple[Path, float, float]:
    """trombone D3 then oboe D5 (unseen test notes), then silence, as one WAV; returns
    (path, trombone seconds, oboe seconds)."""
    from dsp.audio import load

    trombone = load(ASSETS / "test" / "fluidr3" / "trombone" / "trombone_D3_v80.flac", 22050)
    oboe = load(ASSETS / "test" / "fluidr3" / "oboe" / "oboe_D5_v80.flac", 22050)
    y = np.concatenate([trombone, oboe, np.zeros(int(silence_s * 22050), np.float32)])
    sf.write(out, y, 22050, subtype="FLOAT")
    return out, len(trombone) / 22050, len(oboe) / 22050


@functools.lru_cache(maxsize=1)
def trained_bundle() -> Path:
    """A real model trained on assets/train/fluidr3 through `timbrel train` (once per test process)."""
    out = Path(tempfile.mkdtemp(prefix="timbrel-live-model-")) / "demo.timbrel.json"
    proc = subprocess.run([sys.executable, "-m", "app.cli", "train", str(ASSETS / "train" / "fluidr3"), "--no-augment", "--out", str(out),
                           "--seed", "0"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"training the test model failed: {proc.stderr.strip()[-2000:]}")
    return out
