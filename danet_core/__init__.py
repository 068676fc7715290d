"""danet_core: the DANet model, checkpoints, inference, training, label formats. Never imports Qt."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["load_model", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import danet_core` stays cheap (no torch import) for the CLI and the app.
    if name == "load_model":
        from danet_core.checkpoints import load_model

        return load_model
    raise AttributeError(name)
