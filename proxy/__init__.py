"""The recording proxy: an aiohttp reverse proxy whose finished exchanges go to the spool."""

from redline.proxy.recorder import Recorder
from redline.proxy.runner import ProxyRunner, ThreadedProxy, run_forever
from redline.proxy.server import Proxy, Route, match_route

__all__ = [
    "Proxy",
    "ProxyRunner",
    "Recorder",
    "Route",
    "ThreadedProxy",
    "match_route",
    "run_forever",
]
