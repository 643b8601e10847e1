# cascade(1) and the consultation example against real daemons
# (tests/integration/cli.sh): send, listen, request, cancel, exit codes.
CLI_TESTS = tests/integration/cli.sh tests/integration/cli_held.sh
TESTS += $(CLI_TESTS)
EXTRA_DIST += $(CLI_TESTS)
