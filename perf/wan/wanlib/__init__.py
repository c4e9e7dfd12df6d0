"""Library of perf/wan/wan.py: scenario model (scenario.py, pure) and the
namespaces, emulator and processes of one run (netenv.py)."""
