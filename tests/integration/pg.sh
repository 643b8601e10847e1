# pg.sh: a PostgreSQL server of the test's own, in $T_DIR, for the audit
# sink's test and benchmark. Source after lib.sh and t_init.
#
#	pg_init           finds Debian's server (postgresql package), makes a
#	                  cluster in $T_DIR/pg (user cascade, trust), sets PG_PORT,
#	                  PG_SOCK (its unix socket directory) and PG_URL (a
#	                  postgresql:// URL of database audit); returns 1 saying
#	                  exactly why when it cannot
#	pg_start          the server as background process pg (t_bg: the test's
#	                  end stops it), waits until it accepts connections
#	pg_stop [MODE]    pg_ctl stop -m MODE (default fast), waits for the exit
#	pg_sql SQL        psql -At: one row a line, columns separated by |
#
# As root the cluster belongs to the postgres user (initdb refuses root),
# or nobody when there is none (setpriv: no PAM, no extra process); $T_DIR
# is opened to it (mode 711).
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_RUN=()

pg_init() {
	local owner
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
		echo "# no PostgreSQL server here (no /usr/lib/postgresql/*/bin/initdb):" \
			"apt-get install -y postgresql (./bootstrap installs it)"
		return 1
	fi
	if ! command -v psql >/dev/null; then
		echo "# no psql: apt-get install -y postgresql-client (./bootstrap installs postgresql)"
		return 1
	fi
	mkdir -p "$T_DIR/pg" "$T_DIR/pgsock"
	if [ "$(id -u)" -eq 0 ]; then
		owner=postgres
		id -u postgres >/dev/null 2>&1 || owner=nobody
		chmod 711 "$T_DIR"
		chown "$owner" "$T_DIR/pg" "$T_DIR/pgsock"
		PG_RUN=(setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups)
	fi
	PG_PORT=$(t_free_port)
	PG_SOCK=$T_DIR/pgsock
	if ! "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$T_DIR/pg/data" -A trust -U cascade -E UTF8 \
		--no-sync >"$T_DIR/initdb.log" 2>&1; then
		echo "# initdb failed (as ${owner:-$(id -un)}):"
		sed 's/^/#   /' "$T_DIR/initdb.log" | tail -n 5
		return 1
	fi
	pg_start || return 1
	PG_DB=postgres pg_sql "CREATE DATABASE audit" >/dev/null || return 1
	PG_URL="postgresql://cascade@/audit?host=$PG_SOCK&port=$PG_PORT"
}

pg_start() {
	t_bg pg "${PG_RUN[@]}" "$PG_BIN/postgres" -D "$T_DIR/pg/data" -k "$PG_SOCK" -p "$PG_PORT" \
		-c listen_addresses= || return 1
	t_wait_for "postgres accepts connections" 30 \
		"$PG_BIN/pg_isready" -q -h "$PG_SOCK" -p "$PG_PORT" -U cascade -d postgres
}

pg_stop() {
	"${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$T_DIR/pg/data" -m "${1:-fast}" stop >>"$T_DIR/pg_ctl.log" 2>&1
	t_wait pg 30
}

pg_sql() {
	psql -X -q -At -h "$PG_SOCK" -p "$PG_PORT" -U cascade -d "${PG_DB:-audit}" -v ON_ERROR_STOP=1 -c "$1"
}
