"""The commands, one module per noun. Each exposes `register(app)`."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from redline.commands import calls, checks, demo, proxy, replay, scan, store, tasks, ui

    proxy.register(app)
    calls.register(app)
    checks.register(app)
    tasks.register(app)
    scan.register(app)
    replay.register(app)
    ui.register(app)
    demo.register(app)
    store.register(app)
