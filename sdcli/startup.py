"""Start-up without the cyclic garbage collector rescanning what start-up builds.

A command makes most of the objects it will ever hold in its first moments: the modules it imports and
botocore's service models, several hundred thousand objects that live until it exits. CPython's collector runs
every 700 allocations and walks the survivors again at each older-generation pass; in a no-op ``sdcli deploy``
that was about 70 ms of collection that freed nothing. So the entry point defers collection, and the first
place that has built its long-lived objects (the first AWS client, the local stack's server) ends start-up:
those objects are frozen (:func:`gc.freeze`), so no later collection walks them, and collection resumes.
"""

from __future__ import annotations

import gc

_deferred = False


def defer_collection() -> None:
    """For a process's entry point only; library callers keep their collector as it is."""
    global _deferred
    if gc.isenabled():
        gc.disable()
        _deferred = True


def startup_done() -> None:
    """Freeze what exists and resume collection; later calls, or calls without a deferral, change nothing."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()
