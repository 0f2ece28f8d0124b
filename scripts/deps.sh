#!/bin/sh
# Installs the Debian packages pbrpc builds and tests with, if any are missing.
# Runs apt-get when root; otherwise prints the exact command and fails.
#   scripts/deps.sh [PACKAGE...]   extra packages besides the default list, for
#                                  optional tools (make fuzz: clang libclang-rt-dev)
set -eu

packages="gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev protobuf-compiler valgrind \
libprotoc-dev libsodium-dev libuv1-dev libcmocka-dev procps time binutils \
python3 python3-cryptography"
packages="$packages $*"

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "pbrpc: installing missing packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "pbrpc: not root; run:  sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
