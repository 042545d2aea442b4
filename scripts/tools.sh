#!/usr/bin/env bash
# Install the pinned developer tools into ./bin (or $TOOLS_BIN).
#
#   scripts/tools.sh                 # all tools
#   scripts/tools.sh golangci-lint   # just one
#   scripts/tools.sh --print-path golangci-lint   # install if needed, print binary path
#
# Tools are built with `go install module@version`, which uses each tool's own
# go.mod (its tested dependency set) and verifies it against sum.golang.org.
# Nothing is added to the project's go.mod. A binary already in the bin dir is
# reused when `go version -m` shows the pinned module version, so repeated
# runs (and CI with a cached ./bin) cost nothing.
set -euo pipefail

# ---- pinned versions: the single source of truth --------------------------
GOLANGCI_LINT_VERSION=v2.15.0
GOVULNCHECK_VERSION=v1.9.0
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
NATSCLI_VERSION=v0.5.0
# ---------------------------------------------------------------------------

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${TOOLS_BIN:-$root/bin}
mkdir -p "$bin"

# name -> "package@version"
spec() {
	case $1 in
	golangci-lint) echo "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION" ;;
	govulncheck) echo "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" ;;
	benchstat) echo "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" ;;
	nats) echo "github.com/nats-io/natscli/nats@$NATSCLI_VERSION" ;;
	*)
		echo "tools.sh: unknown tool '$1' (golangci-lint, govulncheck, benchstat, nats)" >&2
		return 2
		;;
	esac
}

ensure() {
	local name=$1 s pkg want have
	s=$(spec "$name")
	pkg=${s%@*}
	want=${s##*@}
	if [[ -x $bin/$name ]]; then
		# `go version -m` prints "	mod	<module>	<version>	<sum>".
		have=$(go version -m "$bin/$name" 2>/dev/null | awk '$1 == "mod" { print $3; exit }')
		if [[ $have == "$want" ]]; then
			return 0
		fi
		echo "tools.sh: $name is ${have:-unknown}, want $want; reinstalling" >&2
	fi
	echo "tools.sh: go install $pkg@$want -> $bin" >&2
	GOBIN=$bin go install "$pkg@$want"
}

print_path=false
if [[ ${1:-} == --print-path ]]; then
	print_path=true
	shift
fi

tools=("$@")
if [[ ${#tools[@]} -eq 0 ]]; then
	tools=(golangci-lint govulncheck benchstat nats)
fi

for t in "${tools[@]}"; do
	ensure "$t"
	if $print_path; then
		echo "$bin/$t"
	fi
done
