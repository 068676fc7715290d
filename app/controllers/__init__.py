"""Controllers: QObjects that wire workers, widgets and the Qt-free model together (one concern each)."""
