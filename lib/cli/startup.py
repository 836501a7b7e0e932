"""The process's start-up without the cyclic garbage collector.

A cold call imports some 250 modules and builds objects that nearly all live until the process ends.
Collecting while they are built finds no garbage, yet walks them, and the interpreter's exit walks them
all again in several full collections: together about a quarter of a cold call (docs/performance.md,
round six). So the process entry pauses the collector, and the command resumes it once its modules are
loaded, first freezing what start-up built (gc.freeze: no later collection walks it, the exit's and a
long-running server's included). Callers of `cli.main` with their own arguments (tests, embedding)
never pause, so `resume` does nothing for them.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """The collector on again (once; a no-op unless `pause` turned it off)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
