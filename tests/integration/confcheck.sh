#!/bin/bash
# cascaded -n lists every error of a config as file:line, then fails.
. "$(dirname "$0")/lib.sh"
t_init confcheck
CASCADED=$top_builddir/node/cascaded
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_DIR/up.secret"; chmod 600 "$T_DIR/up.secret"
cat >"$T_DIR/bad.conf" <<CONF
node Fj-Bad
data-dir $T_DIR/data
sync perhaps
parent fj {
    url tcp://127.0.0.1:1
    secret $T_DIR/up.secret
}
allow-plain yes
colour blue
CONF
chmod 600 "$T_DIR/bad.conf"
"$CASCADED" -n -f "$T_DIR/bad.conf" >"$T_DIR/out" 2>&1
t_eq "exit status 1" 1 $?
cat "$T_DIR/out"
t_check "line 1: bad node id" grep -q "^$T_DIR/bad.conf:1: " "$T_DIR/out"
t_check "line 3: bad sync value" grep -q "^$T_DIR/bad.conf:3: " "$T_DIR/out"
t_check "line 9: unknown directive" grep -q "^$T_DIR/bad.conf:9: .*colour" "$T_DIR/out"
t_eq "three errors" 3 "$(grep -c "^$T_DIR/bad.conf:[0-9]*: " "$T_DIR/out")"
t_eq "in line order" "1 3 9" "$(sed -n "s#^$T_DIR/bad.conf:\([0-9]*\): .*#\1#p" "$T_DIR/out" | tr '\n' ' ' | sed 's/ $//')"
chmod 620 "$T_DIR/bad.conf"
"$CASCADED" -n -f "$T_DIR/bad.conf" >"$T_DIR/out2" 2>&1
t_check "a config writable by others is named once in its error" \
    grep -q "^$T_DIR/bad.conf: writable by group or others" "$T_DIR/out2"
chmod 600 "$T_DIR/bad.conf"
sed -i -e 's/^node Fj-Bad/node fj-good/' -e 's/perhaps/no/' -e '/colour/d' "$T_DIR/bad.conf"
t_check "the mended config passes -n" "$CASCADED" -n -f "$T_DIR/bad.conf"

# cascaded -g: a secret for a new child, and the lines for both sides
out=$("$CASCADED" -f "$T_DIR/bad.conf" -g fj-good-siming -o "$T_DIR")
t_check "the secret file is written" test -f "$T_DIR/fj-good-siming.secret"
t_eq "with mode 0600" 600 "$(stat -c %a "$T_DIR/fj-good-siming.secret")"
t_check "the parent's child block is printed" grep -q "^child fj-good-siming {" <<<"$out"
t_check "the child's parent block names this node" grep -q "^parent fj-good {" <<<"$out"
t_check "an existing secret is never overwritten" t_not "$CASCADED" -g fj-good-siming -o "$T_DIR"

# --help and -h: the usage on stdout, exit 0; a wrong flag: exit 2
t_check "cascaded --help exits 0 with its usage" sh -c "'$CASCADED' --help | grep -q '^usage: cascaded'"
t_check "cascaded -h too" sh -c "'$CASCADED' -h | grep -q '^usage: cascaded'"
"$CASCADED" -Z >/dev/null 2>&1
t_eq "a wrong flag exits 2" 2 $?
# the data directory is made with its parents, mode 0700; one open to others is refused
sed -i "s#^data-dir .*#data-dir $T_DIR/deep/er/data#" "$T_DIR/bad.conf"
echo "listen tcp://127.0.0.1:$(t_free_port)" >>"$T_DIR/bad.conf"
timeout 2 "$CASCADED" -d -f "$T_DIR/bad.conf" >"$T_DIR/dd.out" 2>&1
t_eq "data-dir and its parents made, mode 0700" "700 700" "$(stat -c %a "$T_DIR/deep" "$T_DIR/deep/er/data" | tr '\n' ' ' | sed 's/ $//')"
chmod 755 "$T_DIR/deep/er/data"
"$CASCADED" -d -f "$T_DIR/bad.conf" >"$T_DIR/dd.out" 2>&1
t_eq "an open data-dir: exit 1" 1 $?
t_check "and the error says so and what to do" grep -q "error: .*data-dir $T_DIR/deep/er/data is open to group or others (mode 0755).*chmod 700" "$T_DIR/dd.out"
t_done
