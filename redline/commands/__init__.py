"""The commands, one module per noun. Each exposes `register(app)`."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from redline.commands import calls, checks, proxy, tasks

    proxy.register(app)
    calls.register(app)
    checks.register(app)
    tasks.register(app)
