# Integration tests of cascaded: real daemons on loopback (see tests/integration/lib.sh).
NODE_TESTS = \
	tests/integration/tree.sh \
	tests/integration/restart.sh \
	tests/integration/outage.sh \
	tests/integration/ttl.sh \
	tests/integration/ttl_inflight.sh \
	tests/integration/inflight_restart.sh \
	tests/integration/epochs.sh \
	tests/integration/badinput.sh \
	tests/integration/confcheck.sh \
	tests/integration/tls.sh \
	tests/integration/cancel.sh \
	tests/integration/cancel_inflight.sh \
	tests/integration/syncack.sh \
	tests/integration/manlint.sh \
	tests/integration/stall.sh \
	tests/integration/shutdown.sh \
	tests/integration/uplink_callfail.sh \
	tests/integration/tcp_resets.sh \
	tests/integration/retry_storm.sh
TESTS += $(NODE_TESTS)
EXTRA_DIST += tests/integration/nodes.sh $(NODE_TESTS)

# Offline notices (notify.c) and delay warnings (delaywarn.c)
TESTS += tests/integration/offline_notify.sh tests/integration/delay_warning.sh
EXTRA_DIST += tests/integration/offline_notify.sh tests/integration/delay_warning.sh \
	tests/integration/notify_recv.py
