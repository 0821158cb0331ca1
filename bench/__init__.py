"""Benchmarks: each runs ours and a baseline side by side and reports their ratio.

Run them all with ``bash scripts/bench.sh`` (``--smoke`` for tiny sizes); see BENCHMARKS.md.
"""
