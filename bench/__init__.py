"""Benchmarks that measure the service against its floor, side by side in one run.

``python -m bench`` (``make bench``; ``make bench-quick`` for a short run) starts a PostgreSQL-backed
gunicorn server for the API and one for the floor in ``bench.floor`` with the same configuration,
loads both with wrk on loopback, and prints ratios. See docs/performance.md.
"""
