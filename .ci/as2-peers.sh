#!/bin/sh
# AS2 interop peers for the tests (PEERS.md), installed idempotently: the
# OpenSSL 3 CLI, BouncyCastle (Debian packages, run by a single-file Java
# program in transports/as2/testdata, so a JDK: the launcher compiles it)
# and npm libas2 0.8.2 with the pkijs override (run by a Node program in
# transports/as2/testdata), cached outside the clone so later runs reuse it.
# Source it (. .ci/as2-peers.sh) so the exports reach the tests:
# WHARF_TEST_BC_CLASSPATH, WHARF_TEST_LIBAS2.
as2_peers_apt() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
if ! command -v openssl >/dev/null; then
	as2_peers_apt openssl || { echo 'as2-peers: apt-get install of openssl failed' >&2; return 1 2>/dev/null || exit 1; }
fi
if ! command -v javac >/dev/null; then
	as2_peers_apt default-jdk-headless || { echo 'as2-peers: apt-get install of a JDK failed' >&2; return 1 2>/dev/null || exit 1; }
fi
if [ ! -f /usr/share/java/bcprov.jar ] || [ ! -f /usr/share/java/bcpkix.jar ] || [ ! -f /usr/share/java/bcutil.jar ]; then
	as2_peers_apt libbcprov-java libbcpkix-java libbcutil-java || { echo 'as2-peers: apt-get install of BouncyCastle failed' >&2; return 1 2>/dev/null || exit 1; }
fi
WHARF_TEST_BC_CLASSPATH=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
export WHARF_TEST_BC_CLASSPATH
if command -v node >/dev/null && command -v npm >/dev/null; then
	LIBAS2_DIR="${HOME}/.cache/wharf-peers/libas2"
	if [ ! -f "$LIBAS2_DIR/node_modules/libas2/package.json" ]; then
		mkdir -p "$LIBAS2_DIR"
		cat >"$LIBAS2_DIR/package.json" <<'JSON'
{ "name": "wharf-libas2-peer", "private": true,
  "dependencies": { "libas2": "0.8.2" },
  "overrides": { "pkijs": "2.1.90" } }
JSON
		(cd "$LIBAS2_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || { echo 'as2-peers: npm install libas2 failed' >&2; return 1 2>/dev/null || exit 1; }
	fi
	WHARF_TEST_LIBAS2="$LIBAS2_DIR"
	export WHARF_TEST_LIBAS2
else
	echo 'as2-peers: node and npm are needed for the libas2 peer (apt-get install -y nodejs npm)' >&2
fi
