"""The lock files as {distribution: version}, for the tests of the image and of the compose file."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lock_pins(name: str) -> dict[str, str]:
    """{distribution: version} of requirements/<name> (a uv pip compile output)."""
    pins = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            package, version = line.split(";")[0].strip().split("==")
            pins[canonical(package)] = version
    return pins


def canonical(name: str) -> str:
    """A distribution name in its normal form (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()
