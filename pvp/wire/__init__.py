"""What the control plane and the kiosk agent say to each other: every wire contract, typed once.

Imports neither program (an import contract in setup.cfg checks it).
"""
