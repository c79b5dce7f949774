"""The panel: the French web interface of the control plane, one blueprint per area.

Areas: ``auth`` (sign-in), ``admin`` (the region's plan, routing preview, import/export,
audit log), ``manager`` (a service's counsellors, windows and appointments), ``feeds`` (ICS),
``console`` (a counsellor's status, calls and queues), ``supervision`` (kiosk health and
alerts) and ``evaluation`` (statistics from the call records). :mod:`pvp.panel.app` puts
them on the application.
"""
