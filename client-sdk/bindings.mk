# client-sdk/python and client-sdk/java: the bindings of libcascade (issue 12).
# Both load the shared libcascade at run time (ctypes, JNA): nothing here
# compiles C. tests/integration/bindings.sh runs their tests against real
# daemons; make bench-sdk (tests/bench/local.mk) measures them beside C.

# Python: pure Python (ctypes), nothing to build.
PY_BINDING = client-sdk/python/pyproject.toml client-sdk/python/README.md \
	client-sdk/python/cascade/__init__.py client-sdk/python/cascade/_lib.py \
	client-sdk/python/tests/conftest.py client-sdk/python/tests/tree.py \
	client-sdk/python/tests/crashpeer.py client-sdk/python/tests/test_client.py \
	client-sdk/python/tests/test_crash.py client-sdk/examples/consult.py
EXTRA_DIST += $(PY_BINDING)

# Java: plain javac + jar against Debian's jna.jar, when configure found a
# JDK (HAVE_JAVA). cascade.jar is installed in $(datadir)/java; the tests'
# classes and the example go into jars that are never installed.
JAVA_SRC = client-sdk/java/src/org/cascade/CascadeLibrary.java \
	client-sdk/java/src/org/cascade/CascadeException.java \
	client-sdk/java/src/org/cascade/Err.java \
	client-sdk/java/src/org/cascade/Packet.java \
	client-sdk/java/src/org/cascade/Client.java \
	client-sdk/java/src/org/cascade/Direct.java
JAVA_TEST_SRC = client-sdk/java/test/org/cascade/ClientTest.java \
	client-sdk/java/test/org/cascade/TestMain.java
JAVA_EXAMPLE_SRC = client-sdk/examples/Consult.java
EXTRA_DIST += $(JAVA_SRC) $(JAVA_TEST_SRC) $(JAVA_EXAMPLE_SRC) client-sdk/java/README.md
JAVACFLAGS = -Xlint:all,-try -encoding UTF-8 --release 11

if HAVE_JAVA
javadir = $(datadir)/java
java_DATA = client-sdk/java/cascade.jar
check_DATA = client-sdk/java/cascade-test.jar client-sdk/java/cascade-examples.jar
CLEANFILES += client-sdk/java/cascade.jar client-sdk/java/cascade-test.jar \
	client-sdk/java/cascade-examples.jar

# jar NAME CLASSPATH SOURCES...: compiles SOURCES (from srcdir) into a fresh
# directory and packs it.
JAVA_JAR_RULE = d=$@.classes; rm -rf $$d && mkdir -p $$d && \
	for f in $$srcs; do echo "$(srcdir)/$$f"; done >$$d.args && \
	$(JAVAC) $(JAVACFLAGS) -d $$d -cp "$$cp" @$$d.args && \
	$(JAR) cf $@ -C $$d . && rm -rf $$d $$d.args

client-sdk/java/cascade.jar: $(JAVA_SRC)
	$(AM_V_GEN)mkdir -p client-sdk/java; srcs='$(JAVA_SRC)'; cp='$(JNA_JAR)'; $(JAVA_JAR_RULE)
client-sdk/java/cascade-test.jar: $(JAVA_TEST_SRC) client-sdk/java/cascade.jar
	$(AM_V_GEN)srcs='$(JAVA_TEST_SRC)'; cp='client-sdk/java/cascade.jar:$(JNA_JAR):$(JUNIT_JAR)'; \
	    $(JAVA_JAR_RULE)
client-sdk/java/cascade-examples.jar: $(JAVA_EXAMPLE_SRC) client-sdk/java/cascade.jar
	$(AM_V_GEN)srcs='$(JAVA_EXAMPLE_SRC)'; cp='client-sdk/java/cascade.jar:$(JNA_JAR)'; \
	    $(JAVA_JAR_RULE)
endif

# pytest, JUnit, and C + Python + Java programs on one tree; it fails, saying
# what to install, when python3-pytest or the JDK is missing.
TESTS += tests/integration/bindings.sh
EXTRA_DIST += tests/integration/bindings.sh
