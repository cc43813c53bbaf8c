"""Which input device ``--mic`` names, and the rate and channels to open it at.

PortAudio's device list is matched the way sounddevice matches names (so a name that works there
works here), and a device that will not record at the spec's 16 kHz is opened at its native rate
instead, asked of PortAudio itself before any stream is opened: many USB microphones (common on a
Jetson) take only 44.1 or 48 kHz. Every refusal is one line that lists the input devices, so the
user can pick another without a second tool. Kept apart from :mod:`edgefer.live.microphone`, which
records from the chosen device, so ``edgefer doctor`` lists devices without the recording side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import ModuleType

from edgefer.errors import EdgeferError

__all__ = [
    "FALLBACK_RATES",
    "INSTALL_HINT",
    "InputDevice",
    "candidate_rates",
    "choose_input_settings",
    "find_input_device",
    "import_sounddevice",
    "input_devices",
]

INSTALL_HINT = (
    "pip install 'edgefer[live]' (sounddevice + PortAudio), or use --mic FILE / --mic none"
)
# Rates tried, in order, after the spec's rate and the device's own default: what USB and onboard
# codecs commonly accept. A device taking none of them is reported with the list of devices.
FALLBACK_RATES = (48000, 44100, 32000, 22050)


@dataclass(frozen=True)
class InputDevice:
    """One device PortAudio can record from: the input side of ``python -m sounddevice``.

    index : PortAudio's device index (what ``--mic 4`` names).
    channels : the most input channels it offers.
    default_samplerate : its native rate, the one it is most likely to accept.
    is_default : PortAudio's (or ``sounddevice.default.device``'s) default input.
    hostapi : the host API's name (ALSA, PulseAudio, ...); matched by ``--mic NAME`` too.
    """

    index: int
    name: str
    channels: int
    default_samplerate: float
    is_default: bool = False
    hostapi: str = ""

    def details(self) -> str:
        """``'USB Audio' (1 ch, 48000 Hz)``: name, channels and native rate."""
        return f"'{self.name}' ({self.channels} ch, {self.default_samplerate:.0f} Hz)"

    def describe(self) -> str:
        """``4 'USB Audio' (1 ch, 48000 Hz)``: how error messages list a device."""
        return f"{self.index} {self.details()}"


def import_sounddevice() -> ModuleType:
    """The ``sounddevice`` module; a missing package or PortAudio library (OSError) is one line."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise EdgeferError(f"microphone input is unavailable ({exc}): {INSTALL_HINT}") from exc
    return sd


def input_devices(sd: ModuleType | None = None) -> list[InputDevice]:
    """Every device with at least one input channel, in PortAudio's order.

    Raises
    ------
    EdgeferError
        sounddevice or PortAudio is missing, or PortAudio cannot list its devices.
    """
    sd = sd if sd is not None else import_sounddevice()
    try:
        listed = list(sd.query_devices())
        hostapis = _hostapi_names(sd)
        default = _default_input_spec(sd)
    except (ValueError, sd.PortAudioError) as exc:
        raise EdgeferError(f"cannot list audio devices ({exc}): {INSTALL_HINT}") from exc
    devices = [
        InputDevice(
            index=int(info.get("index", position)),
            name=str(info["name"]),
            channels=int(info["max_input_channels"]),
            default_samplerate=float(info["default_samplerate"]),
            hostapi=hostapis.get(info.get("hostapi", -1), ""),
        )
        for position, info in enumerate(listed)
        if int(info["max_input_channels"]) > 0
    ]
    if isinstance(default, str):  # sounddevice.default.device set to a name
        named = _matching(default, devices)
        default = named[0].index if len(named) == 1 else None
    return [replace(device, is_default=device.index == default) for device in devices]


def _hostapi_names(sd: ModuleType) -> dict[int, str]:
    query = getattr(sd, "query_hostapis", None)
    return {} if query is None else {i: str(api["name"]) for i, api in enumerate(query())}


def _default_input_spec(sd: ModuleType) -> int | str | None:
    """The input half of ``sounddevice.default.device``: an index (-1: none), a name, or None."""
    value = sd.default.device
    if value is not None and not isinstance(value, (int, str)):
        value = value[0]  # an (input, output) pair
    return value if isinstance(value, (int, str)) else None


def _matching(query: str, devices: Sequence[InputDevice]) -> list[InputDevice]:
    """Devices whose "name, host API" holds each space-separated part of ``query`` in order.

    Case is ignored: the rule sounddevice applies to a device name, so names that work there work
    here.
    """
    parts = query.lower().split()
    found = []
    for device in devices:
        text, position = f"{device.name}, {device.hostapi}".lower(), 0
        for part in parts:
            position = text.find(part, position)
            if position < 0:
                break
            position += len(part)
        else:
            found.append(device)
    return found


def _listing(devices: Sequence[InputDevice]) -> str:
    if not devices:
        return "no input devices found"
    return "input devices: " + ", ".join(device.describe() for device in devices)


def find_input_device(spec: int | str | None, devices: Sequence[InputDevice]) -> InputDevice:
    """The device ``--mic SPEC`` names: an index, a name (see :func:`_matching`), or None (default).

    Raises
    ------
    EdgeferError
        Nothing or several devices match, or the index is no input device; the one line lists the
        input devices, so the user can pick one without another tool.
    """
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    if spec is None:
        default = [device for device in devices if device.is_default]
        if default:
            return default[0]
        raise EdgeferError(f"no default input device; {_listing(devices)}")
    if isinstance(spec, int):
        for device in devices:
            if device.index == spec:
                return device
        raise EdgeferError(f"no input device {spec}; {_listing(devices)}")
    matches = _matching(spec, devices)
    if len(matches) == 1:
        return matches[0]
    query = spec.strip().lower()
    exact = [d for d in matches if query in (d.name.lower(), f"{d.name}, {d.hostapi}".lower())]
    if len(exact) == 1:  # "USB Audio" beside "USB Audio #2", as sounddevice decides
        return exact[0]
    if not matches:
        raise EdgeferError(f"no input device matches {spec!r}; {_listing(devices)}")
    raise EdgeferError(
        f"{spec!r} matches {len(matches)} input devices: "
        + ", ".join(device.describe() for device in matches)
        + "; give its index or more of its name"
    )


def candidate_rates(wanted: int, device: InputDevice) -> list[int]:
    """Rates to try, best first: the spec's (no resampling), the device's own, then common ones.

    None below ``wanted``: upsampled 8 kHz telephone audio would leave the upper half of the voice
    image empty, which the model never saw in training, so such a device is refused instead.
    """
    rates = [int(wanted), int(round(device.default_samplerate)), *FALLBACK_RATES]
    return [rate for i, rate in enumerate(rates) if rate >= wanted and rate not in rates[:i]]


def choose_input_settings(
    sd: ModuleType, device: InputDevice, wanted: int, dtype: str = "float32"
) -> tuple[int, int]:
    """(sample rate, channels) the device accepts, asking PortAudio with ``check_input_settings``.

    Mono is tried at every rate first; a device that refuses mono (a stereo USB codec's ``hw:``
    device, a microphone array's raw channels) is opened in stereo or with all its channels, which
    the callback averages.

    Raises
    ------
    EdgeferError
        The device takes none of the rates; the line says which were tried and lists the devices.
    """
    rates = candidate_rates(wanted, device)
    channel_options = sorted({1, min(device.channels, 2), device.channels})
    last: Exception | None = None
    for channels in channel_options:
        for rate in rates:
            try:
                sd.check_input_settings(
                    device=device.index, channels=channels, samplerate=rate, dtype=dtype
                )
            except (ValueError, sd.PortAudioError) as exc:
                last = exc
                continue
            return rate, channels
    tried = ", ".join(str(rate) for rate in rates)
    raise EdgeferError(
        f"microphone {device.describe()} records at none of {tried} Hz ({last}); "
        f"{_listing(input_devices(sd))}"
    )
