"""Devices: listing and choosing them, no device at all, and devices that fail mid-stream.

The failures are real: a PulseAudio daemon of the test's own is killed (or frozen) under an open
PortAudio stream. A CallbackAbort test hook is checked beside them.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dsp.live import (DeviceNotFoundError, FileInput, LiveInput, LiveWorker, NoInputDeviceError, StreamEnded,
                      list_input_devices, resolve_input_device)
from live_card import ROOT, play, private_daemon, private_sink, require_card, trained_bundle


@pytest.fixture(scope="module")
def bundle():
    from app.bundle import Bundle
    return Bundle.load(trained_bundle())


def wait_for_audio(source: LiveInput, worker: LiveWorker) -> None:
    while source.ring.written == 0 and worker.running:
        time.sleep(0.01)
    assert worker.running, f"the stream ended before any audio arrived: {worker.ended}"


def last_item(q: queue.Queue):
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    return items[-1] if items else None


def test_devices_are_listed_and_chosen_by_index_or_name():
    require_card()
    devices = list_input_devices()
    default = resolve_input_device(None)
    assert default.is_default and default in devices
    assert resolve_input_device(default.index) == default
    assert resolve_input_device(str(default.index)) == default
    assert resolve_input_device(default.name) == default
    with pytest.raises(DeviceNotFoundError, match="no input device named 'no such mic'; inputs are: .*default"):
        resolve_input_device("no such mic")
    with pytest.raises(DeviceNotFoundError, match="no input device with index 999"):
        resolve_input_device(999)
    if len(devices) > 1:  # 'pulse' and 'default' both contain 'u'
        common = "u" if all("u" in d.name for d in devices) else None
        if common:
            with pytest.raises(DeviceNotFoundError, match="matches several input devices"):
                resolve_input_device(common)


def test_no_sound_server_means_no_input_device_said_plainly(tmp_path):
    empty = tmp_path / "runtime"
    empty.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(empty), "PULSE_SERVER": f"unix:{empty}/none"}
    for args in (["devices"], ["live", str(tmp_path / "any.timbrel.json")]):
        if args[0] == "live":
            args[1] = str(trained_bundle())
        proc = subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert "no input device" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_portaudio_missing_means_no_input_device(monkeypatch):
    # Beside the real test above: sounddevice raising on import (no libportaudio2) is the same condition.
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(NoInputDeviceError, match="PortAudio library is not available"):
        list_input_devices()
    with pytest.raises(NoInputDeviceError):
        LiveInput()


def test_a_killed_sound_server_ends_the_stream_with_an_event(bundle):
    with private_daemon() as daemon:
        source = LiveInput(None, bundle.spec.sr, 256)
        worker = LiveWorker(source, bundle)
        q = worker.subscribe()
        worker.start()
        wait_for_audio(source, worker)
        daemon.kill()
        assert worker.join(30), "the worker did not end after the device died"
    end = last_item(q)
    assert isinstance(end, StreamEnded) and end.reason == "device error"
    assert "stopped unexpectedly" in end.error
    assert source.closed and not source.active


def test_a_frozen_sound_server_ends_the_stream_and_it_closes_when_the_server_goes(bundle):
    with private_daemon() as daemon:
        source = LiveInput(None, bundle.spec.sr, 256)
        worker = LiveWorker(source, bundle, stall_timeout_s=1.5)
        q = worker.subscribe()
        worker.start()
        wait_for_audio(source, worker)
        daemon.send_signal(signal.SIGSTOP)  # no more audio, and PortAudio's close blocks on it
        try:
            assert worker.join(30), "the worker hung on a frozen device"
            end = last_item(q)
            assert isinstance(end, StreamEnded) and end.reason == "device error"
            assert "no audio from the input for 1.5 s" in end.error
        finally:
            daemon.kill()
            daemon.wait(10)
    for _ in range(300):  # the close that was waiting on the server now finishes
        if source.closed:
            break
        time.sleep(0.05)
    assert source.closed and not source.active


def test_a_callback_abort_ends_the_stream_with_an_event(bundle):
    # Test hook beside the real failures above: the callback raises sounddevice.CallbackAbort.
    with private_sink():
        source = LiveInput(None, bundle.spec.sr, 256)
        source._abort_after = 20
        worker = LiveWorker(source, bundle)
        q = worker.subscribe()
        worker.start()
        assert worker.join(30)
    end = last_item(q)
    assert end == StreamEnded("device error", end.error) and "stopped unexpectedly" in end.error
    assert source.closed


def test_a_stream_at_another_rate_is_resampled_for_the_model(bundle, tmp_path):
    # The device runs at 48 kHz (as when it refuses 22050): the worker resamples, frames keep the spec's times.
    from live_card import note_sequence
    path, t1, t2 = note_sequence(tmp_path / "notes.wav", silence_s=0.5)
    with private_sink() as sink:
        source = LiveInput(None, 48000, 256)
        assert source.samplerate == 48000
        worker = LiveWorker(source, bundle)
        q = worker.subscribe(maxsize=0)
        worker.start()
        wait_for_audio(source, worker)
        play(sink, path)
        worker.stop()
    items = [q.get_nowait() for _ in range(q.qsize())]
    labels = [d.label for d in items if not isinstance(d, StreamEnded)]
    assert items[-1] == StreamEnded("stopped") and worker.stats.overflows == 0
    assert labels.count("trombone") > 20 and labels.count("oboe") > 20
    assert labels.index("trombone") < len(labels) - labels[::-1].index("oboe")
    hop = bundle.spec.hop_length / bundle.spec.sr
    times = [d.time for d in items if not isinstance(d, StreamEnded)]
    assert np.allclose(np.diff(times), hop)


def test_every_subscriber_gets_the_end_and_a_slow_one_keeps_the_newest(bundle):
    y = np.zeros(22050 * 2, np.float32)
    worker = LiveWorker(FileInput(y, bundle.spec.sr), bundle)
    full, small = worker.subscribe(maxsize=0), worker.subscribe(maxsize=5)
    worker.start()
    assert worker.join(30)
    late = worker.subscribe()  # subscribing after the end still tells the reader it ended
    items = [full.get_nowait() for _ in range(full.qsize())]
    kept = [small.get_nowait() for _ in range(small.qsize())]
    assert items[-1] == StreamEnded("end of file") and len(items) == 1 + 1 + len(y) // bundle.spec.hop_length
    assert kept == items[-5:]
    assert late.get_nowait() == StreamEnded("end of file")
    assert all(d.label is None for d in items[:-1])  # digital silence is gated


def test_exiting_with_the_stream_running_closes_it_cleanly(tmp_path):
    # A program that forgets to stop: the interpreter exits with the worker and the stream running.
    require_card()
    script = (
        "import time\n"
        "from dsp.features import FeatureSpec\n"
        "from dsp.live import LiveInput, LiveWorker\n"
        "class C:\n"
        "    spec = FeatureSpec()\n"
        "    def predict_proba_point(self, v): return {'a': 1.0}\n"
        "source = LiveInput()\n"
        "worker = LiveWorker(source, C()).start()\n"
        "while source.ring.written == 0: time.sleep(0.01)\n"
        "import dsp.live.sources as s; print('open', len(s._open_sources))\n"
    )
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr  # a crash at exit would be a negative signal number
    assert proc.stdout.strip() == "open 1" and "Fatal Python error" not in proc.stderr
