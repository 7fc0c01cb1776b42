"""The per-record hash every generated choice is drawn from (splitmix64, seeded and tagged)."""

from __future__ import annotations

M64 = (1 << 64) - 1
SEED_MULTIPLIER = 0x9E3779B97F4A7C15
TAG_MULTIPLIER = 0xD1B54A32D192ED03
TAGS = 64  # hash tags in use are below this


def mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread hash for per-record decisions."""
    x &= M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def salts(seed: int) -> tuple[int, ...]:
    """The seed and tag part of every hash of one seed, computed once instead of per record."""
    return tuple(seed * SEED_MULTIPLIER + t * TAG_MULTIPLIER for t in range(TAGS))
