"""A local, Zoho CRM v8-compatible sandbox server with a deterministic messy-data generator."""

from zoho_sandbox.server import Faults, SandboxConfig, SandboxServer

__all__ = ["Faults", "SandboxConfig", "SandboxServer"]
