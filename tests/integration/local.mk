# tests/integration/: shell tests that run the real binaries on loopback.
# lib.sh is the library they source, nodes.sh builds trees of nodes (the
# topologies in one line: n_topo_*); their C tools are in tests/tools/.
# node.mk, cli.mk and http.mk beside this file list more of the tests.

TESTS += tests/integration/proxy.sh tests/integration/limits.sh tests/integration/mtls.sh \
	tests/integration/pushrate.sh tests/integration/quota.sh tests/integration/cascadectl.sh \
	tests/integration/uplink_hold.sh tests/integration/quota_chain.sh tests/integration/priority.sh
EXTRA_DIST += tests/integration/lib.sh tests/integration/proxy.sh tests/integration/limits.sh \
	tests/integration/mtls.sh tests/integration/pushrate.sh \
	tests/integration/quota.sh tests/integration/cascadectl.sh tests/integration/uplink_hold.sh \
	tests/integration/quota_chain.sh tests/integration/priority.sh

# Authorization of what a peer may say: cancel, notices, audit copies, hop
# traces, replies (the SDK), ttl overflow, rejections told downstream.
TESTS += tests/integration/authz.sh
EXTRA_DIST += tests/integration/authz.sh

# ops: /metrics (promtool), cascadectl queue, trace and top
TESTS += tests/integration/metrics.sh tests/integration/ctl_queue.sh tests/integration/ctl_top.sh \
	tests/integration/ctl_trace.sh
EXTRA_DIST += tests/integration/metrics.sh tests/integration/ctl_queue.sh \
	tests/integration/ctl_top.sh tests/integration/ctl_trace.sh

# the link-protocol attacks, through tests/tools/linkmitm
TESTS += tests/integration/mitm_auth.sh
EXTRA_DIST += tests/integration/mitm_auth.sh
TESTS += tests/integration/http_replay.sh
EXTRA_DIST += tests/integration/http_replay.sh
TESTS += tests/integration/mitm_errors.sh
EXTRA_DIST += tests/integration/mitm_errors.sh
TESTS += tests/integration/tls_why.sh
EXTRA_DIST += tests/integration/tls_why.sh
TESTS += tests/integration/auth_refusal.sh
EXTRA_DIST += tests/integration/auth_refusal.sh

# Disk full for real: a county's data-dir on a tmpfs (root only; skipped
# otherwise), its journal's limit and the filesystem itself full
TESTS += tests/integration/diskfull.sh
EXTRA_DIST += tests/integration/diskfull.sh
# Private keys readable by others are refused (tls-key, parent key, SDK --key).
TESTS += tests/integration/tlskeymode.sh
EXTRA_DIST += tests/integration/tlskeymode.sh
# journal-key: payloads encrypted at rest, refused without the key, rotation,
# cancelled bodies dropped, the audit on metadata.
TESTS += tests/integration/journal_key.sh
EXTRA_DIST += tests/integration/journal_key.sh

# cascadectl audit: queries, verify (tests/tools/evtamper changes the event
# log behind the daemon's back), export
TESTS += tests/integration/audit_ctl.sh
EXTRA_DIST += tests/integration/audit_ctl.sh
# cascadectl replay (a county that lost its disk, one that did not, --id,
# pruned packets; evtamper unstore plays retention) and payload-read events
TESTS += tests/integration/replay.sh
EXTRA_DIST += tests/integration/replay.sh

# audit-sink postgresql://: against a PostgreSQL server of its own (pg.sh
# starts Debian's; ./bootstrap installs it). Fails, saying why, without one.
TESTS += tests/integration/audit_sink.sh
EXTRA_DIST += tests/integration/audit_sink.sh tests/integration/pg.sh
# chain anchors (cascadectl audit anchor, audit-anchor-interval), verify
# --since/--anchor, the event indexes built at start and equal to --scan
TESTS += tests/integration/audit_anchor.sh
EXTRA_DIST += tests/integration/audit_anchor.sh

# live reload (SIGHUP, cascadectl reload) and cascadectl check
TESTS += tests/integration/reload.sh
EXTRA_DIST += tests/integration/reload.sh
# live reload of links: children, the parent block, listen urls (issue 10)
TESTS += tests/integration/reload_links.sh
EXTRA_DIST += tests/integration/reload_links.sh
TESTS += tests/integration/notify_client.sh
EXTRA_DIST += tests/integration/notify_client.sh
