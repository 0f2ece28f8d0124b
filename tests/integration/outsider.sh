#!/usr/bin/env bash
# An outsider's view: a client written from docs/protocol.md alone (Python,
# no libsodium, none of our C) talks protocol 2 to a real rpcd, and the
# page's test vectors (§10.4) come out of an independent Noise implementation.
. "$(dirname "$0")/../lib.sh"

PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import cryptography' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
	fail "python3 with the cryptography package (scripts/deps.sh installs python3-cryptography)"
	finish
fi
O=$ROOT/tests/outsider
DOC=$ROOT/docs/protocol.md

# §10.4: every line the independent implementation prints is on the page.
for suites in 0201 01; do
	out=$("$PY" "$O/noise_vectors.py" "$suites" 2>&1)
	ok=1
	while read -r name hex; do
		# The page wraps long hex at 80 columns: compare without the breaks.
		flat=$(tr -d ' \n' <"$DOC")
		[[ $flat == *"$hex"* ]] || { ok=0; fail "§10.4 ($suites): $name not on the page" "$hex"; }
	done <<<"$out"
	[ "$ok" = 1 ] && pass "§10.4 vectors for suites $suites reproduced independently"
done

start_rpcd o || exit 1
expect_eq "the outside client's echo through protocol 2" "hello from outside" \
	"$("$PY" "$O/pbrpc_client.py" "$ADDR_o" "$ID" "$HOST_KEY.pub" "hello from outside" 2>&1)"
check "rpcd logged it under its key's name" grep -q "tester SHA256:.*authenticated (protocol 2, .*outsider.py)" "$LOG_o"
"$RPCC" keygen "$T/nobody" >/dev/null
out=$("$PY" "$O/pbrpc_client.py" "$ADDR_o" "$T/nobody" "$HOST_KEY.pub" hi 2>&1)
check "an unlisted key gets the verdict 'not authorized'" grep -q "refused: not authorized" <<<"$out"
"$RPCC" keygen "$T/otherhost" >/dev/null
out=$("$PY" "$O/pbrpc_client.py" "$ADDR_o" "$ID" "$T/otherhost.pub" hi 2>&1)
check "a pinned key that differs stops the outside client" grep -q "server key changed" <<<"$out"
stop_rpcd_checked o "the outside client"
finish
