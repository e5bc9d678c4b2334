"""Classic TLA+ models transcribed against the checker API, with TLC's state counts as their reference.

Each module transcribes one specification of github.com/tlaplus/Examples and cites TLC's figures for the same
constants; tests/test_classic_models.py holds the checker to those figures.
"""
