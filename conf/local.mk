# conf/: example configurations for each level.
EXTRA_DIST +=
