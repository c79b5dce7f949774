"""Utilities both programs use (atomic writes, child processes, serving, PDF checks).

Imports neither program (an import contract in setup.cfg checks it).
"""
