# conf/: example configurations for each level of a Fujian-style tree
# (master, province fj, city fj-xm, county fj-xm-siming with its links.d/).
# tests/unit/conf_test loads every one of them.
EXTRA_DIST += \
	conf/master.conf \
	conf/province.conf \
	conf/city.conf \
	conf/county.conf \
	conf/county/links.d/fj-xm-siming-gulangyu.conf \
	conf/county/links.d/dr-lin.conf \
	conf/county/links.d/his.conf

# a throwaway PKI for tests and the demo; the systemd unit
EXTRA_DIST += conf/testpki.sh conf/cascaded.service
