"""The recording proxy: an aiohttp reverse proxy whose finished exchanges go to the spool.

Route, parse_routes       where requests go (`--upstream`, `--route /PREFIX=URL`)
ProxyRunner, run_forever  the proxy bound to a port, in the foreground
ThreadedProxy             the same on a thread of its own (tests, benchmarks, the demo)
Capture                   one call being recorded; every capture path builds records with it
"""

from redline.proxy.capture import Capture, error_body
from redline.proxy.recorder import Recorder
from redline.proxy.routes import Route, match_route, parse_routes
from redline.proxy.runner import ProxyRunner, ThreadedProxy, run_forever
from redline.proxy.server import Proxy

__all__ = [
    "Capture",
    "Proxy",
    "ProxyRunner",
    "Recorder",
    "Route",
    "ThreadedProxy",
    "error_body",
    "match_route",
    "parse_routes",
    "run_forever",
]
