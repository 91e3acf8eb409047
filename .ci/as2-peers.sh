#!/bin/sh
# AS2 interop peers for the tests (PEERS.md): BouncyCastle (Debian packages)
# and npm libas2 0.8.2 with the pkijs override, installed idempotently into a
# cache outside the clone. Source it (. .ci/as2-peers.sh) so the exports
# reach the tests: WHARF_TEST_BC_CLASSPATH, WHARF_TEST_LIBAS2.
if [ ! -f /usr/share/java/bcpkix.jar ] || [ ! -f /usr/share/java/bcutil.jar ]; then
	apt-get install -y -q libbcprov-java libbcpkix-java libbcutil-java >/dev/null || { echo 'as2-peers: apt-get install of BouncyCastle failed' >&2; return 1 2>/dev/null || exit 1; }
fi
WHARF_TEST_BC_CLASSPATH=/usr/share/java/bcprov.jar:/usr/share/java/bcpkix.jar:/usr/share/java/bcutil.jar
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
export WHARF_TEST_BC_CLASSPATH WHARF_TEST_LIBAS2
