"""``crosstalk lab``: the lab's local web server (Panel on Tornado), all assets served by it.

Binds 127.0.0.1 unless a host is given explicitly; Bokeh's and Panel's JavaScript and CSS
come from the installed packages through the server itself (``resources="server"``), so the
page works without internet.
"""
from __future__ import annotations

import logging
import os
import socket
import sys

from simulator.lab import runs as R
from simulator.lab.address import LOCALHOST, check_host, check_port
from simulator.lab.app import create_app
from simulator.lab.state import LabState

__all__ = ["serve", "check_host", "check_port", "LOCALHOST", "warm_up"]

def free_port(host: str = LOCALHOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def warm_up() -> float:
    """Simulate the default experiment once, so the first page does not wait for the
    compiler (a fresh machine compiles the integrator once, up to a minute)."""
    lab = R.run(LabState())
    return lab.seconds


def _configure_panel():
    import panel as pn
    os.environ.setdefault("BOKEH_RESOURCES", "server")
    pn.config.inline = False
    pn.extension(notifications=False)
    return pn


def serve(*, port: int = 5006, host: str = LOCALHOST, open_browser: bool = True,
          out=sys.stdout) -> None:
    """Start the lab and block until interrupted (Ctrl-C)."""
    port = check_port(port)
    host = check_host(host)
    if port == 0:
        port = free_port(host)
    print("preparing the model (a fresh machine compiles it once, up to a minute)...",
          file=out, flush=True)
    warm_up()
    pn = _configure_panel()
    logging.getLogger("simulator.lab").setLevel(logging.INFO)
    shown = "localhost" if host in (LOCALHOST, "localhost") else host
    origins = [f"{shown}:{port}", f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    url = f"http://{shown}:{port}/"
    print(f"Crosstalk lab at {url}  (Ctrl-C stops it)", file=out, flush=True)
    if host not in (LOCALHOST, "localhost", "::1"):
        print(f"note: listening on {host}, reachable from other machines on that network",
              file=out, flush=True)
    pn.serve({"/": create_app}, port=port, address=host, show=open_browser,
             websocket_origin=sorted(set(origins)) if host not in ("0.0.0.0", "::")
             else "*", title="Crosstalk lab", start=True, threaded=False, verbose=False)
