# man/: mdoc pages, checked with mandoc -Tlint by tests/integration/manlint.sh.
# The sources name the configuration directory /etc/cascade (a packaged
# build's); the pages installed are made in man/gen/ with this build's
# sysconfdir instead (/usr/local/etc/cascade by default), the directory
# cascaded and cascadectl take their default -f from.
MANPAGE_SRC = man/cascade.conf.5 man/cascaded.8 man/libcascade.3 man/cascade.1 \
	man/cascadectl.8
EXTRA_DIST += $(MANPAGE_SRC)
man_MANS += man/gen/cascade.conf.5 man/gen/cascaded.8 man/gen/libcascade.3 man/gen/cascade.1 \
	man/gen/cascadectl.8
CLEANFILES += $(man_MANS)
MAN_SUBST = $(MKDIR_P) man/gen && sed -e 's|/etc/cascade|$(sysconfdir)/cascade|g'
man/gen/cascade.conf.5: man/cascade.conf.5 Makefile
	$(AM_V_GEN)$(MAN_SUBST) $(srcdir)/man/cascade.conf.5 >$@
man/gen/cascaded.8: man/cascaded.8 Makefile
	$(AM_V_GEN)$(MAN_SUBST) $(srcdir)/man/cascaded.8 >$@
man/gen/libcascade.3: man/libcascade.3 Makefile
	$(AM_V_GEN)$(MAN_SUBST) $(srcdir)/man/libcascade.3 >$@
man/gen/cascade.1: man/cascade.1 Makefile
	$(AM_V_GEN)$(MAN_SUBST) $(srcdir)/man/cascade.1 >$@
man/gen/cascadectl.8: man/cascadectl.8 Makefile
	$(AM_V_GEN)$(MAN_SUBST) $(srcdir)/man/cascadectl.8 >$@
