"""The commands, one module per noun (`task_commands`: flag, tasks, task, export, import).
Each exposes `register(app)`; what they share is in `shared` (options, errors, JSON, the
registry) and `display` (console, tables, messages, verdicts)."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from redline.commands import (
        calls,
        checks,
        demo,
        draft,
        proxy,
        replay,
        scan,
        store,
        task_commands,
        ui,
    )

    proxy.register(app)
    calls.register(app)
    checks.register(app)
    task_commands.register(app)
    draft.register(app)
    scan.register(app)
    replay.register(app)
    ui.register(app)
    demo.register(app)
    store.register(app)
