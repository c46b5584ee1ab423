"""The recording proxy: an aiohttp reverse proxy whose finished exchanges go to the spool.

Route, parse_routes       where requests go (`--upstream`, `--route /PREFIX=URL`)
ProxyRunner, run_forever  the proxy bound to a port, in the foreground
ThreadedProxy             the same on a thread of its own (tests, benchmarks, the demo)
recording                 a call redline makes itself (`redline draft`), recorded through one
Capture                   one call being recorded; every capture path builds records with it
MitmRunner, run_mitm      `--mode mitm`: an HTTPS intercepting proxy (mitmproxy, in-process)
ThreadedMitm              the same on a thread of its own
ApiPattern, parse_pattern which hosts and paths the mitm mode records (DEFAULT_PATTERNS)
CaFiles, ensure_ca        the mitm mode's CA, in redline's config directory

The mitm names are imported on first use: mitmproxy takes a while to import, and only
`--mode mitm` needs it.
"""

from typing import TYPE_CHECKING, Any

from redline.proxy.capture import Capture, error_body
from redline.proxy.recorder import Recorder
from redline.proxy.routes import Route, match_route, parse_routes
from redline.proxy.runner import ProxyRunner, ThreadedProxy, recording, run_forever
from redline.proxy.server import Proxy

if TYPE_CHECKING:
    from redline.proxy.mitm import MitmRunner, ThreadedMitm
    from redline.proxy.mitm import run_forever as run_mitm
    from redline.proxy.mitm_addon import DEFAULT_PATTERNS, ApiPattern, parse_pattern
    from redline.proxy.mitm_ca import CaFiles, ensure_ca

_LAZY = {
    "MitmRunner": ("redline.proxy.mitm", "MitmRunner"),
    "ThreadedMitm": ("redline.proxy.mitm", "ThreadedMitm"),
    "run_mitm": ("redline.proxy.mitm", "run_forever"),
    "ApiPattern": ("redline.proxy.mitm_addon", "ApiPattern"),
    "DEFAULT_PATTERNS": ("redline.proxy.mitm_addon", "DEFAULT_PATTERNS"),
    "parse_pattern": ("redline.proxy.mitm_addon", "parse_pattern"),
    "CaFiles": ("redline.proxy.mitm_ca", "CaFiles"),
    "ensure_ca": ("redline.proxy.mitm_ca", "ensure_ca"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'redline.proxy' has no attribute {name!r}")


__all__ = [
    "DEFAULT_PATTERNS",
    "ApiPattern",
    "CaFiles",
    "Capture",
    "MitmRunner",
    "Proxy",
    "ProxyRunner",
    "Recorder",
    "Route",
    "ThreadedMitm",
    "ThreadedProxy",
    "ensure_ca",
    "error_body",
    "match_route",
    "parse_pattern",
    "parse_routes",
    "recording",
    "run_forever",
    "run_mitm",
]
