# man/: mdoc pages, checked with mandoc -Tlint by tests/integration/manlint.sh.
dist_man_MANS += man/cascade.conf.5 man/cascaded.8
dist_man_MANS += man/libcascade.3 man/cascade.1 man/cascade-audit.8 man/cascadectl.8
