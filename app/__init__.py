"""DANet Annotator desktop application (PySide6)."""
