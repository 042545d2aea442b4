#!/usr/bin/env bash
# The compose test: docker-compose.yml's two regions for real, with images
# built here (no registry pull).
#
#   scripts/compose-test.sh
#
# It builds the base image and the images, starts the topology under a
# project name of its own (grantlog-ci-<pid>: it never touches another
# project's containers or volumes) with host ports chosen by Docker, and
# then, talking to the nodes only with docker compose exec and the grantlog
# binary inside them (the images have no shell or curl):
#   1. reads the bootstrap token (grantlog bootstrap token in command-a);
#   2. writes in region A (command-a), checks read-your-writes at a region-B
#      replica with atLeastRevision = that write's revision, and the other
#      way round (a write through command-b, read at a region-A replica);
#   3. cuts region B off (docker network disconnect of nats-b from wan),
#      writes in A, and sees a region-B replica answer 503
#      revisionNotYetApplied for that revision while /v1/status reports it
#      stale, not lag 0;
#   4. reconnects, and sees every replica in both regions converge: the same
#      answer at the same revision, the same revision in /v1/status and
#      the same export;
#   5. docker compose down -v, always (a trap), also after a failure (after
#      printing the services' logs).
# Without a Docker engine it prints "compose test: skipped: no Docker
# engine" and exits 0. COMPOSE_TEST_KEEP=1 leaves the project up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! docker info >/dev/null 2>&1; then
	echo "compose test: skipped: no Docker engine"
	exit 0
fi
if docker compose version >/dev/null 2>&1; then
	compose_cmd=(docker compose)
	wait_flag=(--wait)
elif command -v docker-compose >/dev/null 2>&1; then
	compose_cmd=(docker-compose) # 1.x: no --wait; the loop below waits
	wait_flag=()
else
	echo "compose test: skipped: no docker compose (or docker-compose)"
	exit 0
fi

project=grantlog-ci-$$
t0=$(date +%s)
phase_start=$t0
phase() {
	local now
	now=$(date +%s)
	printf 'compose test: [%3ds, +%3ds] %s\n' $((now - t0)) $((now - phase_start)) "$*"
	phase_start=$now
}
fail() {
	echo "compose test: FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d)
# Passwords of this run only (the user's .env, if any, is not read for
# them: the environment wins).
scripts/compose-env.sh >"$tmp/env"
set -a
# shellcheck source=/dev/null
. "$tmp/env"
set +a
# Docker picks free host ports (loopback only).
export PORT_COMMAND_A=127.0.0.1: PORT_REPLICA_A1=127.0.0.1: PORT_REPLICA_A2=127.0.0.1:
export PORT_COMMAND_B=127.0.0.1: PORT_REPLICA_B1=127.0.0.1: PORT_REPLICA_B2=127.0.0.1:
export COMPOSE_PROJECT_NAME=$project DOCKER_CLI_HINTS=false

compose() { "${compose_cmd[@]}" -p "$project" -f docker-compose.yml "$@"; }

cleanup() {
	local rc=$?
	set +e
	if [[ $rc -ne 0 ]]; then
		echo "compose test: the services' state and logs:"
		compose ps
		compose logs --no-color --tail 40
	fi
	if [[ ${COMPOSE_TEST_KEEP:-0} == 1 ]]; then
		echo "compose test: COMPOSE_TEST_KEEP=1: left up; end it with: ${compose_cmd[*]} -p $project down -v"
	else
		compose down -v --remove-orphans >"$tmp/down.log" 2>&1 || cat "$tmp/down.log"
		phase "down -v"
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

services=(nats-home-1 nats-home-2 nats-home-3 nats-b command-a replica-a1 replica-a2 command-b replica-b1 replica-b2)

# health SERVICE: Docker's health status of its container.
health() {
	local id
	id=$(compose ps -q "$1" 2>/dev/null)
	[[ -n $id ]] || { echo missing; return; }
	docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
}

wait_healthy() {
	local deadline=$(($(date +%s) + $1)) svc st pending
	while :; do
		pending=()
		for svc in "${services[@]}"; do
			st=$(health "$svc")
			[[ $st == healthy ]] || pending+=("$svc:$st")
		done
		[[ ${#pending[@]} -eq 0 ]] && return 0
		[[ $(date +%s) -lt $deadline ]] || fail "not healthy after $1s: ${pending[*]}"
		sleep 2
	done
}

# gl SERVICE ARGS...: the grantlog CLI inside SERVICE, against that node.
gl() {
	local svc=$1
	shift
	compose exec -T -e GRANTLOG_URL=http://127.0.0.1:8080 -e GRANTLOG_TOKEN="$token" "$svc" /grantlog "$@"
}

# revision_of JSON: the "revision" field of a command's answer.
revision_of() { sed -n 's/.*"revision": *\([0-9][0-9]*\).*/\1/p' <<<"$1" | head -n1; }

# status_field SERVICE FIELD: a field of the node's /v1/status.
status_of() { gl "$1" status; }

phase "start ($("${compose_cmd[@]}" version --short 2>/dev/null || "${compose_cmd[@]}" version | head -n1), project $project)"
scripts/docker-base.sh
phase "base image"
compose build >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log"; fail "compose build"; }
phase "images built (grantlog:local, grantlog-nats:local)"
compose up -d --build "${wait_flag[@]}" >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; fail "compose up"; }
wait_healthy 240
phase "up: all ${#services[@]} services healthy"

token=$(compose exec -T command-a /grantlog bootstrap token)
[[ $token == glt_* ]] || fail "bootstrap token: got '${token:0:8}...'"
phase "bootstrap token read (grantlog bootstrap token)"

# 2. A write in region A, read in region B at its revision.
gl command-a role create Viewer --permission 'NAMESPACE:{namespace}:DOC=R' --reason compose-test >/dev/null
out=$(gl command-a assign --namespace ci --user u1 --role Viewer)
rev=$(revision_of "$out")
[[ -n $rev ]] || fail "assign in A: no revision in: $out"
out=$(gl replica-b1 check --namespace ci --user u1 --at-least-revision "$rev" 'NAMESPACE:ci:DOC' R) ||
	fail "read-your-writes in B at revision $rev: $out"
phase "write in A (revision $rev), read at replica-b1 with atLeastRevision=$rev: allowed"
out=$(gl command-b assign --namespace ci --user u2 --role Viewer)
rev_b=$(revision_of "$out")
[[ -n $rev_b && $rev_b -gt $rev ]] || fail "assign through command-b: $out"
gl replica-a1 check --namespace ci --user u2 --at-least-revision "$rev_b" 'NAMESPACE:ci:DOC' R >/dev/null ||
	fail "read-your-writes in A of B's write (revision $rev_b)"
phase "write in B (revision $rev_b, appended to the home stream), read at replica-a1: allowed"

# 3. Partition: region B's NATS loses the wan.
wan=$(docker network ls -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.network=wan")
nats_b=$(compose ps -q nats-b)
[[ -n $wan && -n $nats_b ]] || fail "no wan network or nats-b container"
docker network disconnect "$wan" "$nats_b"
phase "region B cut off (docker network disconnect wan nats-b)"
out=$(gl command-a assign --namespace ci --user u3 --role Viewer)
rev_cut=$(revision_of "$out")
[[ -n $rev_cut ]] || fail "assign in A during the partition: $out"
set +e
out=$(gl replica-b1 check --namespace ci --user u3 --at-least-revision "$rev_cut" 'NAMESPACE:ci:DOC' R 2>&1)
code=$?
set -e
[[ $code -ge 2 && $out == *revisionNotYetApplied* ]] ||
	fail "replica-b1 during the partition, atLeastRevision=$rev_cut: want 503 revisionNotYetApplied, got exit $code: $out"
phase "write in A (revision $rev_cut); replica-b1: 503 revisionNotYetApplied"
# Still answering at its own revision (availability), and saying it is stale.
gl replica-b1 check --namespace ci --user u1 'NAMESPACE:ci:DOC' R >/dev/null || fail "replica-b1 stopped answering at its revision"
stale=""
for _ in $(seq 1 30); do
	st=$(status_of replica-b1)
	if [[ $st == *'"stale":true'* || $st == *'"lag":null'* ]] && [[ $st != *'"lag":0,'* ]]; then
		stale=$st
		break
	fi
	sleep 1
done
[[ -n $stale ]] || fail "replica-b1's /v1/status during the partition does not say stale: $st"
phase "replica-b1 answers at its revision and reports: $stale"

# 4. Heal, converge.
docker network connect "$wan" "$nats_b"
phase "region B reconnected"
out=$(gl command-a assign --namespace ci --user u4 --role Viewer)
last=$(revision_of "$out")
[[ -n $last ]] || fail "assign after the heal: $out"
declare -A answers=()
for svc in replica-a1 replica-a2 replica-b1 replica-b2; do
	ok=0
	for _ in $(seq 1 60); do
		if a=$(gl "$svc" check --namespace ci --user u3 --at-least-revision "$last" 'NAMESPACE:ci:DOC' R 2>&1); then
			ok=1
			break
		fi
		sleep 1
	done
	[[ $ok == 1 ]] || fail "$svc did not converge to revision $last: $a"
	answers[$svc]=$(sed -n 's/.*"allowed": *\(true\|false\).*/\1/p' <<<"$a")@$(revision_of "$a")
done
phase "every replica answers at revision >= $last: ${answers[*]}"
exports=()
for svc in command-a replica-a1 replica-a2 command-b replica-b1 replica-b2; do
	for _ in $(seq 1 30); do
		st=$(status_of "$svc")
		[[ $(revision_of "$st") == "$last" ]] && break
		sleep 1
	done
	[[ $(revision_of "$st") == "$last" ]] || fail "$svc's /v1/status: revision is not $last: $st"
	exports+=("$(gl "$svc" export -o yaml | sha256sum | cut -c1-16)")
done
first=${exports[0]}
for e in "${exports[@]}"; do
	[[ $e == "$first" ]] || fail "exports differ across the nodes: ${exports[*]}"
done
phase "converged: the 6 nodes at revision $last, identical exports ($first)"

# 5. The README's "Regions" blocks (marked readme-test: needs docker), as
# written, against this project: docker compose is this project's, up and
# down are already done here, scripts/ are no-ops (no .env is written), and
# its localhost:80xx are the ports Docker picked.
if command -v curl >/dev/null && command -v jq >/dev/null; then
	mkdir -p "$tmp/$project" # $(basename "$PWD")_wan is this project's network
	{
		printf 'compose() { %s -p %q -f %q "$@"; }\n' "${compose_cmd[*]}" "$project" "$PWD/docker-compose.yml"
		echo 'docker() { if [[ $1 == compose ]]; then shift; case $1 in up|down) echo "(README: docker compose $1: done by the compose test)";; *) compose "$@";; esac; else command docker "$@"; fi; }'
		echo 'scripts/docker-base.sh() { :; }'
		echo 'scripts/compose-env.sh() { :; }'
		echo 'curl() { command curl --max-time 30 "$@"; }'
		awk '/<!-- readme-test: needs docker -->/ { want = 1; next }
			want && /^```sh$/ { inblock = 1; next }
			inblock && /^```$/ { inblock = 0; want = 0; print "echo ---- end of block"; next }
			inblock { print }' README.md
	} >"$tmp/readme.sh"
	# The README's ports (8080, 8081, ... 8092) to the ones Docker picked.
	ports_sed=()
	for sp in command-a:8080 replica-a1:8081 replica-a2:8082 command-b:8090 replica-b1:8091 replica-b2:8092; do
		ports_sed+=(-e "s/localhost:${sp#*:}/$(compose port "${sp%:*}" 8080)/g")
	done
	sed -i "${ports_sed[@]}" "$tmp/readme.sh"
	blocks=$(grep -c '^echo ---- end of block' "$tmp/readme.sh")
	[[ $blocks -ge 3 ]] || fail "README: $blocks blocks marked readme-test: needs docker, want 3"
	out=$(cd "$tmp/$project" && bash "$tmp/readme.sh" 2>&1) || fail "README blocks: $out"
	[[ $out == *'"allowed":true'* ]] || fail "README: the check in region B is not allowed: $out"
	[[ $out == *revisionNotYetApplied* ]] || fail "README: no 503 revisionNotYetApplied during the partition: $out"
	[[ $out == *'"region":"b"'* ]] || fail "README: no status of region b: $out"
	phase "README \"Regions\": its $blocks docker blocks ran as written against this project"
else
	phase "README \"Regions\" blocks: skipped (no curl or jq on this machine)"
fi
echo "compose test: PASS in $(($(date +%s) - t0))s"
