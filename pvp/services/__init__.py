"""Domain services: the changes the panel, the CLI and the plan import share.

Each service checks, changes and writes the audit entry itself, so every change is audited
whoever makes it (a panel view, ``pvp …`` on the command line, a plan import). The callers
only say who acts (``actor``: a panel login, or ``cli:<unix user>``).
"""
