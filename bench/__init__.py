"""Benchmarks: mediawatch measured side by side with its ceilings and its peers.

Not tests (CI does not run them). ``make bench`` runs ``python -m bench``, which runs every
script here, prints one summary table and rewrites ``docs/PERFORMANCE.md``. Each script also
runs alone, e.g. ``python -m bench.ceilings --pages 3000`` or ``--quick``.

Import-light on purpose: ``bench.common``, ``bench.proctree``, ``bench.site`` and ``bench.site_build``
use the standard library only, so a peer's own virtualenv can run them too.
"""
