# make bench: performance figures, never part of make check.
bench:
	@echo "benchmarks: see tests/bench/"
