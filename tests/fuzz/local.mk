# tests/fuzz/: libFuzzer targets (clang -fsanitize=fuzzer,address,undefined),
# built by make fuzz only, never by make all or make check. Each runs for
# FUZZ_SECONDS (tests/fuzz/<target>.fuzzer) from its seed corpus tests/fuzz/<target>/ (new inputs go to
# tests/fuzz/work/<target>/, not into the source tree); a crash stops make
# fuzz and leaves its input as tests/fuzz/work/crash-* — fix the product and
# commit that input into the target's corpus.
# Its output goes to tests/fuzz/work/<target>.out (not .log: tests/summary.sh
# reads every .log under tests/ for a RESULT line).
FUZZ_TARGETS = fuzz_packet fuzz_request fuzz_reply fuzz_conf
FUZZ_SECONDS = 30
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
# the modules under test, compiled again with FUZZ_CC (the build's CC may be
# gcc): every source of packets/ and of node/libnode (journal, conf, log),
# taken from their own lists so a new module is never missing here (the
# recipe compiles the .c files among the prerequisites)
FUZZ_MODULES = $(packets_libpackets_la_SOURCES:%=$(top_srcdir)/%) \
	$(node_libnode_la_SOURCES:%=$(top_srcdir)/%) packets/cascade.pb-c.c
# conf.c checks an audit-sink URL with libpq's parser when built with it
FUZZ_LIBS = $(PROTOBUF_C_LIBS) $(OPENSSL_LIBS) $(LIBEVENT_LIBS) $(NNG_LIBS) $(LMDB_LIBS) \
	$(LIBPQ_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += $(FUZZ_TARGETS:%=tests/fuzz/%.c) $(FUZZ_TARGETS:%=tests/fuzz/%) tests/fuzz/seeds.py
CLEANFILES += $(FUZZ_TARGETS:%=tests/fuzz/%.fuzzer)

# limits.c (with its hash table) wants the daemon's global node: only fuzz_request defines one
tests/fuzz/fuzz_request.fuzzer: $(top_srcdir)/node/limits.c $(top_srcdir)/node/hashtab.c
$(FUZZ_TARGETS:%=tests/fuzz/%.fuzzer): tests/fuzz/%.fuzzer: $(top_srcdir)/tests/fuzz/%.c $(FUZZ_MODULES) packets/cascade.pb-c.h
	@test -n "$(FUZZ_CC)" || { echo "make fuzz: no clang with libFuzzer (configure found none: apt-get install -y clang libclang-rt-14-dev, then configure again)" >&2; exit 1; }
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_FLAGS) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) \
	    $(PROTOBUF_C_CFLAGS) $(OPENSSL_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBPQ_CFLAGS) \
	    -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

fuzz: $(FUZZ_TARGETS:%=tests/fuzz/%.fuzzer)
	@for t in $(FUZZ_TARGETS); do \
	    $(MKDIR_P) tests/fuzz/work/$$t; \
	    echo "fuzz $$t: $(FUZZ_SECONDS) s from $(top_srcdir)/tests/fuzz/$$t/"; \
	    if tests/fuzz/$$t.fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -artifact_prefix=tests/fuzz/work/ tests/fuzz/work/$$t $(top_srcdir)/tests/fuzz/$$t \
	        >tests/fuzz/work/$$t.out 2>&1; then \
	        echo "fuzz $$t: ok ($$(grep -a -o 'Done [0-9]* runs' tests/fuzz/work/$$t.out))"; \
	    else \
	        echo "fuzz $$t: FAILED (tests/fuzz/work/$$t.out)"; tail -n 40 tests/fuzz/work/$$t.out; \
	        exit 1; \
	    fi; \
	done

.PHONY: fuzz
