"""Live input: PortAudio callback → RingBuffer → LiveWorker (streaming features + classifier) → Decisions.

    from dsp.live import LiveInput, FileInput, LiveWorker
    worker = LiveWorker(LiveInput(device=None, samplerate=bundle.spec.sr), bundle).start()
    q = worker.subscribe()          # Decision per frame, then one StreamEnded
    ...
    worker.stop()                   # always closes the stream

Importing this package does not import sounddevice; a machine without PortAudio gets a
NoInputDeviceError from list_input_devices()/LiveInput(), not an ImportError.
"""
from dsp.live.decide import DecisionSettings, PointClassifier
from dsp.live.devices import (DeviceNotFoundError, InputDevice, LiveInputError, NoInputDeviceError,
                              list_input_devices, resolve_input_device)
from dsp.live.sources import FileInput, LiveInput
from dsp.live.worker import Decision, LiveStats, LiveWorker, StreamEnded

__all__ = [
    "Decision", "DecisionSettings", "DeviceNotFoundError", "FileInput", "InputDevice", "LiveInput",
    "LiveInputError", "LiveStats", "LiveWorker", "NoInputDeviceError", "PointClassifier", "StreamEnded",
    "list_input_devices", "resolve_input_device",
]
