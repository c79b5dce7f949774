"""Point Visio Public: the control plane, the kiosk agent and their shared core."""

__version__ = "0.1.0"
