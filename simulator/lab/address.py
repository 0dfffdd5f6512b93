"""Where the lab listens: the checks of ``--host`` and ``--port``, as plain functions (the
command line checks its arguments without loading Panel or the model)."""
from __future__ import annotations

import ipaddress

__all__ = ["LOCALHOST", "check_host", "check_port"]

LOCALHOST = "127.0.0.1"


def check_port(port) -> int:
    """A TCP port number 1-65535 (0: any free port)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port must be an integer from 0 to 65535, got {port!r}")
    return port


def check_host(host: str) -> str:
    """An IP address or a plain host name."""
    host = str(host).strip()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if not host or len(host) > 253 or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels):
        raise ValueError(f"--host must be an IP address or a host name, got {host!r}")
    return host
