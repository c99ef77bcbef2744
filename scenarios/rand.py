"""Seeded, independent random streams and random identifiers for the scenario generator."""

from __future__ import annotations

import uuid
import zlib

import numpy as np

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"


def rng_for(seed: int, *labels: str) -> np.random.Generator:
    """A generator for one concern (labels), independent of every other concern's draws."""
    key = [zlib.crc32(label.encode("utf-8")) for label in labels]
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def chars(rng: np.random.Generator, alphabet: str, n: int) -> str:
    """``n`` characters drawn from ``alphabet``."""
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), n))


def uuid4(rng: np.random.Generator) -> str:
    """A version-4 UUID drawn from ``rng`` (deterministic for a seed)."""
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))
