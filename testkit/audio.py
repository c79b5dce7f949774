"""Just enough signal analysis for the tests, with the standard library only."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path


def read_mono(path: Path) -> tuple[array[int], int]:
    """The first channel of a 16-bit WAV file, and its sample rate."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, "sndfile writes 16-bit PCM"
        channels, rate = wav.getnchannels(), wav.getframerate()
        samples = array("h", wav.readframes(wav.getnframes()))
    return samples[::channels], rate


def rms(samples: array[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def zero_crossing_frequency(samples: array[int], rate: int) -> float:
    """A pure tone crosses zero twice per period."""
    crossings = sum(1 for a, b in zip(samples, samples[1:], strict=False) if (a < 0) != (b < 0))
    return crossings * rate / (2 * len(samples))


def segment(samples: array[int], rate: int, start: float, end: float) -> array[int]:
    """Seconds ``start``..``end``; negative values count from the end."""
    n = len(samples)
    first = int(start * rate) if start >= 0 else n + int(start * rate)
    last = int(end * rate) if end > 0 else n + int(end * rate)
    return samples[max(first, 0) : min(last, n)]
