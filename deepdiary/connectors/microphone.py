"""The microphone and the speaker, through ALSA's ``arecord`` and ``aplay`` (Debian's alsa-utils).

No Python audio package is needed (sounddevice would also need the PortAudio library);
a machine without a capture device, such as a server or CI, is told so in one line.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from deepdiary.core.errors import DeviceUnavailable

RATE = 16_000


def capture_devices(timeout: float = 10.0) -> list[str]:
    """The sound cards that can record, as ``arecord -l`` lists them ("card 0: ... device 0: ...")."""
    binary = shutil.which("arecord")
    if binary is None:
        raise DeviceUnavailable("no microphone: recording needs arecord (apt-get install alsa-utils)")
    try:
        done = subprocess.run([binary, "-l"], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DeviceUnavailable("no microphone: arecord -l did not answer") from None
    return [line.strip() for line in done.stdout.splitlines() if re.match(r"card \d+:", line.strip())]


class Microphone:
    """Fixed-length recordings from the default (or a named) ALSA capture device, as WAV."""

    def __init__(self, device: str | None = None):
        if not capture_devices():
            raise DeviceUnavailable("no microphone: this machine has no sound capture device (arecord -l lists none)")
        self.binary = shutil.which("arecord")
        self.device = device

    def record(self, seconds: float) -> bytes:
        """``seconds`` of 16 kHz mono sound as a WAV file."""
        cmd = [self.binary, "-q", "-f", "S16_LE", "-r", str(RATE), "-c", "1", "-t", "wav",
               "-d", str(max(1, round(seconds)))]
        if self.device:
            cmd += ["-D", self.device]
        try:
            done = subprocess.run(cmd + ["-"], capture_output=True, timeout=seconds + 10, check=False)
        except subprocess.TimeoutExpired:
            raise DeviceUnavailable("the microphone stopped answering (arecord timed out)") from None
        if done.returncode != 0 or len(done.stdout) <= 44:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise DeviceUnavailable("the microphone could not record" + (f": {why[-1]}" if why else ""))
        return done.stdout


def play(wav: bytes, timeout: float = 120.0) -> bool:
    """Play a WAV on the default speaker; False when there is no ``aplay`` or it fails."""
    binary = shutil.which("aplay")
    if binary is None:
        return False
    try:
        return subprocess.run([binary, "-q", "-"], input=wav, capture_output=True, timeout=timeout,
                              check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False
