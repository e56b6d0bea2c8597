"""Input devices: list them, pick one by index or name, and say clearly when there is none.

sounddevice is imported lazily so that a machine without PortAudio can still import ``dsp`` and use
everything but live input: there ``import sounddevice`` raises OSError, which becomes NoInputDeviceError.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType


class LiveInputError(RuntimeError):
    """A problem with live input that the user can act on (the message says what and why)."""


class NoInputDeviceError(LiveInputError):
    """PortAudio is missing, or it sees no device that can record."""


class DeviceNotFoundError(LiveInputError):
    """The requested device index or name does not name exactly one input device."""


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    hostapi: str
    channels: int
    default_samplerate: float
    is_default: bool

    def describe(self) -> str:
        mark = "*" if self.is_default else " "
        return (f"{mark} {self.index:>3}  {self.name}  ({self.hostapi}, {self.channels} in, "
                f"{self.default_samplerate:g} Hz)")


def load_sounddevice() -> ModuleType:
    """Import sounddevice, turning 'PortAudio library not found' into NoInputDeviceError."""
    try:
        import sounddevice
    except (OSError, ImportError) as e:  # OSError: sounddevice finds no libportaudio2
        raise NoInputDeviceError(f"no input device: the PortAudio library is not available ({e})") from e
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """Every device PortAudio can record from (possibly empty, e.g. no sound server running)."""
    sd = load_sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except sd.PortAudioError as e:
        raise NoInputDeviceError(f"no input device: PortAudio cannot list devices ({e})") from e
    if default_in is None or default_in < 0:  # no default set: use the host API's own default input
        default_in = next((h["default_input_device"] for h in hostapis if h["default_input_device"] >= 0), -1)
    return [
        InputDevice(
            index=d["index"], name=d["name"], hostapi=hostapis[d["hostapi"]]["name"],
            channels=d["max_input_channels"], default_samplerate=float(d["default_samplerate"]),
            is_default=d["index"] == default_in,
        )
        for d in devices
        if d["max_input_channels"] > 0
    ]


def resolve_input_device(device: int | str | None = None) -> InputDevice:
    """The input device named by index ("3" too), exact name, or a unique part of a name; None = default."""
    devices = list_input_devices()
    if not devices:
        raise NoInputDeviceError("no input device: PortAudio sees no device that can record "
                                 "(is a sound server running, a microphone connected?)")
    if device is None or device == "":
        default = [d for d in devices if d.is_default]
        return default[0] if default else devices[0]
    if isinstance(device, int) or (isinstance(device, str) and device.strip().isdigit()):
        index = int(device)
        for d in devices:
            if d.index == index:
                return d
        raise DeviceNotFoundError(f"no input device with index {index}; inputs are: {_names(devices)}")
    exact = [d for d in devices if d.name == device]
    if exact:
        return exact[0]
    matches = [d for d in devices if device.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceNotFoundError(f"no input device named {device!r}; inputs are: {_names(devices)}")
    raise DeviceNotFoundError(f"{device!r} matches several input devices: {_names(matches)}; "
                              "give the index or the full name")


def _names(devices: list[InputDevice]) -> str:
    return ", ".join(f"{d.index} {d.name!r}" for d in devices)
