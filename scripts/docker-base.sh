#!/usr/bin/env bash
# Build the local base image of deploy/Dockerfile's build stages,
# grantlog-go:<major.minor> (default grantlog-go:1.26), from this machine's Go
# toolchain: no image is pulled from any registry.
#
#   scripts/docker-base.sh            # build it unless it is there, same Go version
#   scripts/docker-base.sh --force    # build it again
#   GO_IMAGE=name:tag scripts/docker-base.sh   # another tag
#
# The image is FROM scratch plus one tarball: $(go env GOROOT) as
# /usr/local/go (without its tests and API docs), the CA bundle (for the Go
# module proxy), a /tmp, and /rootfs: the directories of the final images
# (data, tmp, home/nonroot), owned by their user, uid 65532 (the build
# stages have no mkdir to make them). It runs go in exec form (there is no shell):
# deploy/Dockerfile's RUN lines are ["go", ...]. CGO_ENABLED=0, so the
# binaries it builds are static and need no libc; modules are downloaded
# through GOPROXY during docker build (the build arg defaults to this
# machine's go env GOPROXY).
set -euo pipefail

command -v docker >/dev/null || { echo "docker-base: no docker client" >&2; exit 1; }
command -v go >/dev/null || { echo "docker-base: no go toolchain" >&2; exit 1; }

goroot=$(go env GOROOT)
goversion=$(go env GOVERSION) # go1.26.8
minor=${goversion#go}
minor=${minor%.*} # 1.26
image=${GO_IMAGE:-grantlog-go:$minor}
force=0
[[ ${1:-} == --force ]] && force=1

layout=2 # bump when the image's content changes
have=$(docker image inspect --format '{{index .Config.Labels "org.grantlog.go-version"}}/{{index .Config.Labels "org.grantlog.base-layout"}}' "$image" 2>/dev/null || true)
if [[ $force == 0 && $have == "$goversion/$layout" ]]; then
	echo "docker-base: $image is there ($goversion)"
	exit 0
fi

ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
	if [[ -r $f ]]; then
		ca=$f
		break
	fi
done
[[ -n $ca ]] || { echo "docker-base: no CA bundle found (needed to reach the Go module proxy)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/etc/ssl/certs" "$ctx/root/tmp" "$ctx/rootfs/rootfs/data" "$ctx/rootfs/rootfs/tmp" "$ctx/rootfs/rootfs/home/nonroot"
cp "$ca" "$ctx/root/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$ctx/root/tmp"
start=$(date +%s)
# The toolchain as usr/local/go, whatever its path here; root-owned.
tar -C "$goroot" --owner=0 --group=0 \
	--exclude=./test --exclude=./api --exclude=./doc --exclude=./misc \
	--transform 's,^\.,usr/local/go,' -cf "$ctx/root.tar" .
tar -C "$ctx/root" --owner=0 --group=0 -rf "$ctx/root.tar" etc tmp
tar -C "$ctx/rootfs" --owner=65532 --group=65532 -rf "$ctx/root.tar" rootfs
cat >"$ctx/Dockerfile" <<EOF
FROM scratch
ADD root.tar /
ENV PATH=/usr/local/go/bin GOROOT=/usr/local/go HOME=/tmp GOCACHE=/tmp/go-build GOMODCACHE=/tmp/go-mod \\
    GOPATH=/tmp/go CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
LABEL org.grantlog.go-version="$goversion" org.grantlog.base-layout="$layout"
EOF
docker build -q -t "$image" "$ctx" >/dev/null
echo "docker-base: built $image ($goversion, $(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}')) in $(($(date +%s) - start))s"
