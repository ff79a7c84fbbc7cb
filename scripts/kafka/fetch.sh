#!/usr/bin/env bash
# Fetches the broker's jars into .kafka/lib (once; Maven's local cache keeps them afterwards).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib="$root/.kafka/lib"
if [ -f "$lib/.complete" ]; then exit 0; fi
mkdir -p "$lib"
mvn -B -q -f "$root/scripts/kafka/pom.xml" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$lib" >&2
touch "$lib/.complete"
