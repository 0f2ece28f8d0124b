#!/usr/bin/env bash
# rpcd as a daemon: defaults with no options, key file rules, graceful stop.
. "$(dirname "$0")/../lib.sh"

# No options: loopback on the default port, a host key created 0600, and an
# authorized keys file letting in this user's identity (made where rpcc finds
# it), whose rpcc trusts its own rpcd's host key.
home=$T/home
mkdir -p "$home"
if (exec 3<>/dev/tcp/127.0.0.1/7420) 2>/dev/null; then
	pass "defaults (skipped: port 7420 is in use here)"
else
	HOME=$home XDG_CONFIG_HOME= XDG_DATA_HOME= PBRPC_KEY= "$RPCD" 2>"$T/default.log" &
	pid=$!
	wait_for 60 grep -q "listening on" "$T/default.log"
	check "default listens on 127.0.0.1:7420" grep -q "listening on 127.0.0.1:7420" "$T/default.log"
	check "default host key created and its fingerprint logged" \
		grep -q "created host key $home/.config/pbrpc/host_key: SHA256:" "$T/default.log"
	expect_eq "default host key mode 0600" 600 "$(stat -c %a "$home/.config/pbrpc/host_key" 2>/dev/null)"
	check "default identity authorized and announced" \
		grep -q "created $home/.config/pbrpc/authorized_keys authorizing" "$T/default.log"
	expect_eq "default identity mode 0600" 600 "$(stat -c %a "$home/.config/pbrpc/id_x25519" 2>/dev/null)"
	check "no shared key made" test ! -e "$home/.config/pbrpc/key"
	check "default root created" test -d "$home/.local/share/pbrpc/files"
	expect_eq "rpcc with no options finds server and key" "hi" \
		"$(HOME=$home XDG_CONFIG_HOME= PBRPC_KEY= PBRPC_SERVER= "$RPCC" echo hi 2>&1)"
	check "nothing pinned for the local server" test ! -e "$home/.config/pbrpc/known_servers"
	kill -TERM "$pid"
	wait "$pid"
	expect_eq "SIGTERM on an idle server exits 0" 0 "$?"
fi

# A key file others can read is refused.
cp "$KEY" "$T/loose"
chmod 640 "$T/loose"
out=$("$RPCD" --listen 127.0.0.1:0 --key "$T/loose" --root "$T" 2>&1)
rc=$?
expect_eq "group-readable key refused (exit 1)" 1 "$rc"
check "the refusal says why" grep -q "accessible by group or others" <<<"$out"

# A bad key file and bad options are clear errors.
echo "not a key" >"$T/bad"
chmod 600 "$T/bad"
out=$("$RPCD" --listen 127.0.0.1:0 --key "$T/bad" --root "$T" 2>&1)
check "malformed key refused" grep -q "64 hexadecimal digits" <<<"$out"
out=$("$RPCD" --listen nonsense --key "$KEY" --root "$T" 2>&1)
check "bad listen address refused" grep -qi "bad address" <<<"$out"

# Graceful stop: an open call finishes after SIGTERM, then rpcd exits 0.
start_rpcd g || exit 1
# The chat's input is a FIFO held open here, its output a file: a coproc's
# descriptors vanish when it exits, which on a busy machine could be before
# its last line was read.
mkfifo "$T/chat-in"
exec {chat_in}<>"$T/chat-in"
"$B/tests/fault_slow_chat" "$SOCK_g" "$KEY" <"$T/chat-in" >"$T/chat.out" 2>&1 &
chat=$!
wait_for 60 grep -qx open "$T/chat.out"
expect_eq "chat call open" "open" "$(sed -n 1p "$T/chat.out")"
kill -TERM "$PID_g"
# rpcd took the TERM (it logs that it is stopping), and waits for the call.
wait_for 60 grep -q "stopping" "$LOG_g"
check "rpcd still running with a call in flight" kill -0 "$PID_g"
echo go >&"$chat_in"
wait_for 60 process_gone "$chat"
wait "$chat"
exec {chat_in}>&-
expect_eq "in-flight call finished after SIGTERM" "done" "$(sed -n 2p "$T/chat.out")"
wait_for 60 process_gone "$PID_g"
wait "$PID_g"
expect_eq "rpcd exited 0 after the last call" 0 "$?"
check "stop was logged" grep -q "stopping" "$LOG_g"
check "unix socket removed" test ! -e "$T/sock-g"
finish
