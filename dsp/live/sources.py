"""Audio sources that fill a RingBuffer: LiveInput (a PortAudio input stream) and FileInput (a file).

Both expose the same small surface the LiveWorker reads: ``ring``, ``samplerate``, ``start()``,
``close()``, ``ended`` (an Event set when no more audio will come) and ``error`` (why, if it was a
failure). So a file goes through exactly the same ring and worker as the microphone.
"""
from __future__ import annotations

import atexit
import math
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from dsp.live.devices import InputDevice, LiveInputError, NoInputDeviceError, load_sounddevice, resolve_input_device
from dsp.ring import RingBuffer

_open_sources: "weakref.WeakSet[_Source]" = weakref.WeakSet()

# The callback needs the GIL, and while another thread runs Python the interpreter hands it over
# only every switch interval (5 ms by default: almost half a 256-sample block). While streams are
# open the interval is shortened (measured: callback start delay p50 5.1 ms -> 1.1 ms beside a busy
# Python thread) and restored when the last one closes.
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.005


def _shorten_switch_interval(interval: float) -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, _switch_saved))
        _switch_users += 1


def _restore_switch_interval() -> None:
    global _switch_users
    with _switch_lock:
        _switch_users -= 1
        if _switch_users == 0:
            sys.setswitchinterval(_switch_saved)


_atexit_registered = False


def _close_all() -> None:
    for source in list(_open_sources):
        source.close()


def _close_all_at_exit() -> None:
    """A PortAudio stream still running while the interpreter tears down can crash at exit. atexit
    runs handlers last-registered-first, and sounddevice's own handler terminates PortAudio, so ours
    is registered after sounddevice has been imported: streams close before PortAudio goes."""
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_close_all)


class _Source:
    ring: RingBuffer
    samplerate: float

    def __init__(self) -> None:
        self.ended = threading.Event()
        self.error: str | None = None
        self.reason = ""

    def _finish(self, reason: str, error: str | None = None) -> None:
        if not self.ended.is_set():
            self.reason, self.error = reason, error
            self.ended.set()

    @property
    def overflows(self) -> int:
        """Blocks of audio lost before analysis (ring full, plus the device's own overruns)."""
        return self.ring.overflows

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LiveInput(_Source):
    """Records from an input device into a preallocated ring; the callback only copies and counts.

    ``samplerate`` is the rate asked for (the feature spec's); when the device refuses it the stream
    opens at the device's default rate and ``self.samplerate`` says so (the worker resamples).
    ``blocksize`` 0 lets PortAudio choose (lowest latency, variable blocks).
    ``gil_switch_interval``: while the stream is open, Python's thread switch interval is at most
    this (see above); None leaves it alone. One stream per LiveInput: after close(), make a new one.
    """

    def __init__(self, device: int | str | None = None, samplerate: float = 22050, blocksize: int = 256,
                 channels: int = 1, *, ring_seconds: float = 4.0, latency: str | float = "low",
                 gil_switch_interval: float | None = 0.001, stats_blocks: int = 1 << 16) -> None:
        super().__init__()
        self._sd = load_sounddevice()
        self.device: InputDevice = resolve_input_device(device)
        self.channels = max(1, min(int(channels), self.device.channels))
        self.samplerate = self._choose_rate(float(samplerate))
        self.requested_samplerate = float(samplerate)
        self.blocksize = int(blocksize)
        self.latency_setting = latency
        self.ring = RingBuffer(int(math.ceil(ring_seconds * self.samplerate)) + max(self.blocksize, 4096))
        self.ring.warm_up()
        # Preallocated callback statistics: duration of each callback, block count, device overruns.
        self._cb_durations = np.zeros(stats_blocks, dtype=np.float64)
        self._cb_delays = np.zeros(stats_blocks, dtype=np.float64)
        self._cb_count = 0
        self.input_overflows = 0
        self._abort_after: int | None = None  # test hook: raise CallbackAbort after this many blocks
        self._stream = None
        self._gil_switch_interval = gil_switch_interval
        self._switch_held = False
        self._closer: threading.Thread | None = None
        self._closing = False

    def _choose_rate(self, wanted: float) -> float:
        try:
            self._sd.check_input_settings(device=self.device.index, samplerate=wanted, channels=self.channels)
            return wanted
        except Exception:  # sounddevice raises PortAudioError or ValueError for a refused rate
            return self.device.default_samplerate

    def start(self) -> None:
        """Open and start the stream; LiveInputError with the reason if the device will not open."""
        if self._stream is not None:
            return
        if self.ended.is_set():
            raise LiveInputError("this LiveInput has been closed; open a new one")
        sd = self._sd
        try:
            self._stream = sd.InputStream(
                device=self.device.index, samplerate=self.samplerate, blocksize=self.blocksize,
                channels=self.channels, dtype="float32", latency=self.latency_setting,
                callback=self._callback, finished_callback=self._finished)
            _close_all_at_exit()
            _open_sources.add(self)
            if self._gil_switch_interval is not None:
                _shorten_switch_interval(self._gil_switch_interval)
                self._switch_held = True
            self._stream.start()
        except sd.PortAudioError as e:
            self.close()
            raise LiveInputError(f"cannot open input device {self.device.index} {self.device.name!r}: {e}") from e

    def _callback(self, indata, frames, time_info, status) -> None:
        # Real-time thread: no allocation of arrays, no locks, no logging. Stamp, copy, count.
        t0 = time.perf_counter()
        if status.input_overflow:
            self.input_overflows += 1
        self.ring.write(indata, t0)
        n = self._cb_count
        k = n % self._cb_durations.shape[0]
        self._cb_delays[k] = time.time() - time_info.currentTime
        self._cb_durations[k] = time.perf_counter() - t0
        self._cb_count = n + 1
        if self._abort_after is not None and n + 1 >= self._abort_after:
            raise self._sd.CallbackAbort

    def _finished(self) -> None:
        # Called by PortAudio when the stream stops: normally on close(), otherwise the device failed.
        if not self._closing:
            self._finish("device error", f"the input stream from {self.device.name!r} stopped unexpectedly "
                                         "(device disconnected or failed)")

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.active

    @property
    def stream_latency(self) -> float | None:
        """The input latency PortAudio reports for the open stream, in seconds."""
        return None if self._stream is None else float(self._stream.latency)

    @property
    def overflows(self) -> int:
        return self.ring.overflows + self.input_overflows

    def callback_durations(self) -> np.ndarray:
        """Durations (s) of the most recent callbacks (up to ``stats_blocks``)."""
        n = min(self._cb_count, self._cb_durations.shape[0])
        return self._cb_durations[:n].copy()

    def callback_delays(self) -> np.ndarray:
        """For recent callbacks, seconds from PortAudio calling back to our Python code running
        (mostly waiting for the GIL). Meaningful where the host API's clock is the wall clock (ALSA)."""
        n = min(self._cb_count, self._cb_delays.shape[0])
        return self._cb_delays[:n].copy()

    @property
    def block_period(self) -> float:
        """Seconds of audio per callback (the requested blocksize; PortAudio's choice when 0)."""
        return (self.blocksize or 256) / self.samplerate

    def close(self, timeout: float = 2.0) -> bool:
        """Stop and close the stream (idempotent, from any thread but the callback's); True once closed.

        A sound server that has frozen can block PortAudio's close indefinitely, so the close runs on
        its own thread: after ``timeout`` s we give up waiting (the stream closes if the server ever
        answers), report it as a device error, and return False instead of hanging the caller.
        """
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is not None:
            self._closer = threading.Thread(target=_close_stream, args=(stream,), name="timbrel-close-stream",
                                            daemon=True)
            self._closer.start()
        if self._closer is not None and self._closer is not threading.current_thread():
            self._closer.join(timeout)
        _open_sources.discard(self)
        if self._switch_held:
            self._switch_held = False
            _restore_switch_interval()
        if not self.closed:
            self._finish("device error", f"the input device {self.device.name!r} is not responding; "
                                         f"its stream did not close within {timeout:g} s")
        self._finish("stopped")
        return self.closed

    @property
    def closed(self) -> bool:
        return self._stream is None and (self._closer is None or not self._closer.is_alive())


def _close_stream(stream) -> None:
    try:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
    except Exception:  # a dead device can fail to close; it is gone either way
        pass


class FileInput(_Source):
    """Feeds a file (or an array) through the ring in blocks, as fast as possible or at real-time pace.

    As fast as possible waits for room in the ring (no block is ever dropped); real time writes each
    block when its audio would have arrived from a device. Stamps are taken like the callback's.
    """

    def __init__(self, source: str | Path | np.ndarray, samplerate: float = 22050, *, realtime: bool = False,
                 blocksize: int = 256, ring_seconds: float = 4.0) -> None:
        super().__init__()
        if isinstance(source, np.ndarray):
            self.audio = np.ascontiguousarray(source, dtype=np.float32).reshape(-1)
            self.name = "<array>"
        else:
            from dsp.audio import load  # the same decoder and resampler as training

            self.audio = load(source, sr=int(samplerate))
            self.name = str(source)
        self.samplerate = float(samplerate)
        self.realtime = realtime
        self.blocksize = max(1, int(blocksize))
        self.ring = RingBuffer(int(math.ceil(ring_seconds * self.samplerate)) + self.blocksize)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            _open_sources.add(self)
            self._thread = threading.Thread(target=self._feed, name="timbrel-file-input", daemon=True)
            self._thread.start()

    def _feed(self) -> None:
        y, bs, ring = self.audio, self.blocksize, self.ring
        t_start = time.perf_counter()
        for i in range(0, len(y), bs):
            block = y[i:i + bs]
            if self.realtime:  # wait until this block's last sample would have been recorded
                delay = t_start + (i + len(block)) / self.samplerate - time.perf_counter()
                if delay > 0 and self._stop.wait(delay):
                    return
            while ring.free() < len(block):  # wait for room rather than drop (not counted as overflow)
                if self._stop.wait(0.001):
                    return
            ring.write(block, time.perf_counter())
            if self._stop.is_set():
                return
        self._finish("end of file")

    @property
    def duration(self) -> float:
        return len(self.audio) / self.samplerate

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        _open_sources.discard(self)
        self._finish("stopped")


__all__ = ["LiveInput", "FileInput", "LiveInputError", "NoInputDeviceError"]
