"""Benchmarks of the OTP service: AWS round trips, cold start, warm overhead, load, size, cost.

Run them all with `.venv/bin/python -m bench`; see `bench/README.md`.
"""

__all__: list[str] = []
