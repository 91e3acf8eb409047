#!/usr/bin/env bash
# The fault suite's long variants (docs/reliability.md): 3,000-document
# kill storms, 60 s outages, the three-instance cluster with its leader
# killed before a schedule slot, hostile input at scale. CI runs the short
# variants (go test ./faults/, part of go test ./...).
#
#   bench/faults/run.sh                  # every scenario, long
#   bench/faults/run.sh 'TestCluster$'   # one
#
# Needs what the tests need: PostgreSQL (WHARF_TEST_DATABASE_URL or
# 127.0.0.1:5432), an S3 server (WHARF_TEST_S3_*, default versitygw on
# 127.0.0.1:7070), OpenSSL, and root for the tmpfs and private PostgreSQL
# scenarios.
set -eu
cd "$(dirname "$0")/../.."
WHARF_FAULTS=long exec go test -count=1 -timeout 90m -v -run "${1:-.}" ./faults/
