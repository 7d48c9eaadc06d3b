#!/usr/bin/env bash
# The test command (README "Test"): restore, build once, run every test of the solution (the
# AppHost tests included), and end with one summary line computed from the TRX results:
#   Tests: N passed, M failed[, K skipped]
# Extra arguments go to `dotnet test`, e.g. --filter "FullyQualifiedName~HashRing".
set -uo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
solution=S3Storage.sln
results="$PWD/TestResults"
rm -rf "$results"

# The Azure Container Apps parts of the AppHost need Aspire.Hosting.Azure.*, which not every
# package source serves. Unless AzureDeployment is set, try with them, and build without them
# (AzureDeployment=false) when they do not restore.
if [ -z "${AzureDeployment:-}" ]; then
  if dotnet restore "$solution" >"${TMPDIR:-/tmp}/s3storage-restore.log" 2>&1; then
    export AzureDeployment=true
  else
    echo "note: the packages did not restore with the Azure parts; building without them (AzureDeployment=false):"
    grep -E 'error' "${TMPDIR:-/tmp}/s3storage-restore.log" | sort -u | head -n 5
    export AzureDeployment=false
  fi
fi

if ! dotnet restore "$solution" || ! dotnet build "$solution" -c "$configuration" --no-restore; then
  echo "error: the build failed; no test ran." >&2
  echo "Tests: 0 passed, 0 failed"
  exit 1
fi

# One test project at a time: the cluster tests and the AppHost tests each start a whole
# cluster, and two at once on a small machine turn timing into failures.
status=0
for project in S3Storage.Tests S3Storage.AppHost.Tests; do
  dotnet test "$project" -c "$configuration" --no-build \
    --logger "trx;LogFilePrefix=$project" --logger "console;verbosity=detailed" \
    --results-directory "$results" "$@" || status=$?
done

passed=0 failed=0 skipped=0 files=0
while IFS= read -r -d '' trx; do
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  value() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
  passed=$((passed + $(value passed)))
  failed=$((failed + $(value failed) + $(value error) + $(value timeout) + $(value aborted)))
  skipped=$((skipped + $(value notExecuted)))
done < <(find "$results" -name '*.trx' -print0)

if [ "$files" -eq 0 ]; then
  echo "error: the test run wrote no results (exit code $status)." >&2
  echo "Tests: 0 passed, 0 failed"
  exit 1
fi

# The names of the failed tests, and the first line of each one's message, come last but for the
# summary, so a CI log cut to its tail still says what failed.
if [ "$failed" -ne 0 ]; then
  echo "Failed tests:"
  find "$results" -name '*.trx' -print0 | xargs -0 python3 -c '
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in sys.argv[1:]:
    try:
        results = list(ET.parse(path).getroot().iterfind(".//t:UnitTestResult", ns))
    except ET.ParseError as error:
        print("  " + path + ": unreadable (" + str(error) + ")")
        continue
    for result in results:
        if result.get("outcome") == "Passed" or result.get("outcome") == "NotExecuted":
            continue
        message = result.findtext("t:Output/t:ErrorInfo/t:Message", "", ns).strip().splitlines()
        print("  " + result.get("testName", "?") + ": " + (message[0][:300] if message else result.get("outcome", "")))
' || echo "  (the TRX files could not be read)"
fi

summary="Tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  exit 1
fi
