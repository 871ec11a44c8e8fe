"""The benchmark behind ``make bench`` (bench/run.py); not part of the package or the tests."""
