"""``danet bench NAME``: run one benchmark of :mod:`danet_core.bench` and print its JSON.

The parser is owned by :mod:`danet_core.bench` (``python -m danet_core.bench`` uses the same one).
"""

from __future__ import annotations

from danet_core.bench import register

__all__ = ["register"]
