"""The issuer's benchmark harness: limits, the peer and the issuer in one run.

`bench/run` runs `python -m bench` (see `harness.py`); bench/README.md says what each module
holds and what each scenario measures.
"""
