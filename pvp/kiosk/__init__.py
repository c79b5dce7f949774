"""The kiosk agent and its devices."""
