"""Test media for Chromium's fake devices: a patterned camera (y4m) and speech-like sound.

Chromium's echo cancellation, noise suppression and gain control flatten a steady tone
within seconds (NOTES.md), so the microphone file is syllables: voiced bursts with a
pitch and its harmonics, shaped at a talking rhythm, with pauses.
"""

from __future__ import annotations

import math
import random
import struct
import wave
from pathlib import Path

CAMERA_SIZE = (320, 240)


def write_camera(path: Path, size: tuple[int, int] = CAMERA_SIZE, frames: int = 30) -> Path:
    """Red, green and blue vertical thirds (what testkit/calls.py's ``colour_bars`` looks
    for) with a white square moving along the top; 15 frames a second, 4:2:0 (JPEG range)."""
    width, height = size
    thirds = [(76, 85, 255), (150, 44, 21), (29, 255, 107)]  # red, green, blue as Y, U, V

    def colour(x: int) -> tuple[int, int, int]:
        return thirds[min(2, x * 3 // width)]

    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(frames):
            box = (n * 8) % (width - 32)
            plain = bytes(colour(x)[0] for x in range(width))
            boxed = bytearray(plain)
            boxed[box : box + 32] = b"\xeb" * 32
            luma = bytes(boxed) * 32 + plain * (height - 32)
            u_row = bytes(colour(2 * x)[1] for x in range(width // 2))
            v_row = bytes(colour(2 * x)[2] for x in range(width // 2))
            out.write(b"FRAME\n" + luma + u_row * (height // 2) + v_row * (height // 2))
    return path


def write_speech(path: Path, seconds: float = 6.0, pitch: float = 140.0, rate: int = 48000) -> Path:
    """Mono 16-bit syllables: ~4 a second, each a voiced burst of a few harmonics."""
    rng = random.Random(9)
    samples = []
    for i in range(int(seconds * rate)):
        t = i / rate
        syllable = (t * 4.0) % 1.0
        envelope = math.sin(math.pi * syllable / 0.7) ** 2 if syllable < 0.7 else 0.0
        if int(t) % 3 == 2 and t % 1.0 > 0.6:
            envelope = 0.0  # a pause between phrases
        wobble = pitch * (1 + 0.08 * math.sin(2 * math.pi * 0.5 * t))
        voiced = sum(math.sin(2 * math.pi * wobble * k * t) / k for k in (1, 2, 3, 4, 5))
        value = envelope * (0.5 * voiced + 0.05 * rng.uniform(-1, 1))
        samples.append(max(-32767, min(32767, int(value * 12000))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path
