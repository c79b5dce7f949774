"""Support shared by the tests and the benchmarks: free ports, SIP stand-ins, FreeSWITCH
bring-up, the baresip user agent, device servers.

Lives at the repository root and is not installed (setup.cfg packages only ``pvp``): kiosk
PCs and control planes never get it. pytest finds it through ``pythonpath = .`` in setup.cfg;
benchmarks are run from the repository root as modules (``python -m benchmarks.bench_x``).
"""
