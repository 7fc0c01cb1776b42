"""Headless Debian chromium driven over the DevTools protocol: set the login cookie, load, dump, shoot."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def require_chromium() -> str:
    """The browser, or the test skipped (locally) or failed (in CI) saying how to install it."""
    import pytest

    executable = find_chromium()
    if executable is None:
        message = "chromium is not installed: run tests/ui/install_chromium.sh"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"the browser test must run in CI; {message}")
        pytest.skip(message)
    return executable


class Page:
    """One browser tab; ``call`` sends a DevTools command and returns its result."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def goto(
        self, url: str, *, ready: str = "document.readyState === 'complete'", timeout: float = 60
    ) -> None:
        """Navigate and wait until the JavaScript condition ``ready`` holds."""
        self.call("Page.navigate", url=url)
        self.wait_for(ready, timeout=timeout)

    def screenshot(self, path: Path, *, width: int = 1280, height: int = 1600) -> Path:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def shoot(self, selector: str, path: Path, *, width: int = 1280, pad: int = 8) -> Path:
        """A PNG of one element of the page (laid out at ``width`` px), for docs and reports."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width,"
            " r.height]; })()"
        )
        x, y, w, h = (float(v) for v in box)
        clip = {
            "x": max(x - pad, 0),
            "y": max(y - pad, 0),
            "width": w + 2 * pad,
            "height": h + 2 * pad,
            "scale": 1,
        }
        data = self.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def type_into(self, selector: str, value: str) -> None:
        """Focus a field, clear it and type ``value`` as keyboard input."""
        self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.focus(); e.select && e.select(); })()"
        )
        self.call("Input.insertText", text=value)

    def wait_for(self, condition: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"Boolean({condition})"):
                return
            time.sleep(0.5)
        text = self.evaluate("document.body && document.body.innerText")
        raise TimeoutError(f"{condition} did not hold within {timeout:.0f} s; page: {text!r:.2000}")


@contextmanager
def browser(executable: str, *, timeout: float = 30) -> Iterator[Page]:
    """A fresh headless chromium (new profile each time) and one tab in it; always shut down."""
    profile = Path(tempfile.mkdtemp(prefix="crm-books-chromium-"))
    proc = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit code {proc.poll()})")
            time.sleep(0.2)
        port = int(port_file.read_text().splitlines()[0])
        tab = httpx.put(f"http://127.0.0.1:{port}/json/new?about:blank", timeout=10).json()
        with connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            page = Page(ws)
            page.call("Page.enable")
            page.call("Network.enable")
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(profile, ignore_errors=True)
