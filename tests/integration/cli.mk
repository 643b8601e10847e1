# cascade(1) and the consultation example against real daemons
# (tests/integration/cli.sh): send, listen, request, cancel, exit codes;
# cli_held.sh: a temporary refusal said plainly; cli_batch.sh: cascade batch.
CLI_TESTS = tests/integration/cli.sh tests/integration/cli_held.sh tests/integration/cli_batch.sh
TESTS += $(CLI_TESTS)
EXTRA_DIST += $(CLI_TESTS)
