#!/usr/bin/env bash
# The offline test command (README "Run the tests"): restore, build once, run every test of the
# offline solution, and end with one summary line computed from the TRX results:
#   Tests: N passed, M failed[, K skipped]
# Extra arguments go to `dotnet test`, e.g. --filter "FullyQualifiedName~HashRing".
set -uo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
solution=S3Storage.Offline.slnf
results="$PWD/TestResults"
rm -rf "$results"

if ! dotnet restore "$solution" || ! dotnet build "$solution" -c "$configuration" --no-restore; then
  echo "error: the build failed; no test ran." >&2
  echo "Tests: 0 passed, 0 failed"
  exit 1
fi

dotnet test "$solution" -c "$configuration" --no-build \
  --logger "trx;LogFilePrefix=tests" --logger "console;verbosity=detailed" \
  --results-directory "$results" "$@"
status=$?

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

summary="Tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  exit 1
fi
