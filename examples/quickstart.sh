#!/usr/bin/env bash
# Quick start, no cloud account needed: start the sandbox (a local emulator of the five APIs) on a free
# port, then drive an IoT job through its whole cycle with `jobs-connector run`:
#   GetPendingJobExecutions -> StartNextPendingJobExecution -> UpdateJobExecution (SUCCEEDED) -> DescribeJobExecution
# The sandbox is stopped when the script ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

# This checkout's CLI: the same program the `jobs-connector` command runs, whatever is on PATH.
jobs_connector() { python3 -m jobs_connector "$@"; }

workdir="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ] && kill -0 "$sandbox_pid" 2>/dev/null; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start it with no AWS credentials of yours in its environment: it then uses (and prints) its own
# documented, fake key pair, and nothing of yours is involved.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  python3 -m jobs_connector sandbox --port 0 --print-env --quiet >"$workdir/env" 2>"$workdir/log" &
sandbox_pid=$!

# Wait until it has printed its environment (it does so once it listens) and answers.
for _ in $(seq 1 150); do
  grep -q '^export AWS_ENDPOINT_URL=' "$workdir/env" 2>/dev/null && break
  if ! kill -0 "$sandbox_pid" 2>/dev/null; then
    echo "the sandbox did not start:" >&2
    cat "$workdir/log" >&2
    exit 1
  fi
  sleep 0.1
done
eval "$(cat "$workdir/env")"
python3 - "$AWS_ENDPOINT_URL/_sandbox/health" <<'PY'
import sys, time, urllib.request
for attempt in range(50):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
            if answer.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("the sandbox does not answer at " + sys.argv[1])
PY
echo "Sandbox running at $AWS_ENDPOINT_URL (fake key pair $AWS_ACCESS_KEY_ID, region $AWS_REGION)"

step() {  # step TITLE ACTION INPUT: show the command, run it, pretty-print its output
  local title="$1" action="$2" input="$3"
  echo
  echo "== $title"
  echo "\$ jobs-connector run $action --input '$input'"
  jobs_connector run "$action" --input "$input" | tee "$workdir/last.json" | python3 -m json.tool
}
field() {  # field EXPR: a value from the last step's output
  python3 -c "import json, sys; data = json.load(open(sys.argv[1])); print($1)" "$workdir/last.json"
}

step "1. The jobs waiting for demo-thing" \
  iot-jobs-data.GetPendingJobExecutions '{"thingName": "demo-thing"}'

step "2. Start the next one (it moves from QUEUED to IN_PROGRESS)" \
  iot-jobs-data.StartNextPendingJobExecution '{"thingName": "demo-thing", "statusDetails": {"step": "downloading"}}'
job_id="$(field 'data["execution"]["jobId"]')"
version="$(field 'data["execution"]["versionNumber"]')"

step "3. Report it SUCCEEDED (expectedVersion $version: refused if anyone changed it meanwhile)" \
  iot-jobs-data.UpdateJobExecution \
  "{\"thingName\": \"demo-thing\", \"jobId\": \"$job_id\", \"status\": \"SUCCEEDED\", \"expectedVersion\": $version, \"statusDetails\": {\"step\": \"done\"}, \"includeJobExecutionState\": true}"

step "4. Describe it" \
  iot-jobs-data.DescribeJobExecution "{\"thingName\": \"demo-thing\", \"jobId\": \"$job_id\", \"includeJobDocument\": false}"

echo
echo "Done: job $job_id on demo-thing is $(field 'data["execution"]["status"]') (version $(field 'data["execution"]["versionNumber"]'))."
echo "Run the sandbox yourself with: jobs-connector sandbox   (see docs/sandbox.md)"
