#!/usr/bin/env bash
# hack/kube/build.sh builds the Kubernetes control plane that the tests run
# for real — kube-apiserver, kube-controller-manager, kubectl and etcd — into
# the tools directory, once. `make kube-tools` runs it; see
# docs/kube-testing.md.
#
#   bash hack/kube/build.sh           build what is missing or out of date
#   bash hack/kube/build.sh --check   exit 0 when everything is up to date, 1 if not
#   bash hack/kube/build.sh --force   rebuild everything
#
# Environment:
#   MESHLITE_TOOLS_DIR or TOOLS_DIR   where binaries go (default ~/.cache/meshlite/bin)
#   MESHLITE_KUBE_SRC                 scratch module (default ~/.cache/meshlite/src/kube-$KUBE_VERSION)
#   GO                                go command (default: go)
#
# The scratch module lives outside the repository: it requires
# k8s.io/kubernetes with one replace per staging module (go.mod.tmpl),
# imports the commands from a tools.go (tools.go.tmpl) and adds a two-line
# etcd main (etcd.go.tmpl) built at the etcd version Kubernetes pins.
#
# Every built binary's version is recorded in $TOOLS_DIR/kube-tools.stamp;
# a binary is rebuilt when it is missing, when the stamp disagrees with the
# versions pinned below, or when the binary reports another version. Bumping
# KUBE_VERSION or ETCD_VERSION therefore rebuilds.
set -euo pipefail

KUBE_VERSION=v1.35.4
ETCD_VERSION=v3.6.5 # what k8s.io/kubernetes $KUBE_VERSION's go.mod requires
TOOLS=(etcd kube-apiserver kube-controller-manager kubectl)

minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
STAGING_VERSION="v0.${KUBE_VERSION#v1.}" # v1.35.4 -> v0.35.4

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools_dir=${MESHLITE_TOOLS_DIR:-${TOOLS_DIR:-$HOME/.cache/meshlite/bin}}
src_dir=${MESHLITE_KUBE_SRC:-$HOME/.cache/meshlite/src/kube-$KUBE_VERSION}
stamp=$tools_dir/kube-tools.stamp
GO=${GO:-go}
command -v "$GO" >/dev/null || GO=/usr/local/go/bin/go

# The scratch module must be built on its own terms, whatever the caller's
# environment says about workspaces, toolchains or vendoring.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf 'kube-tools: %s\n' "$*" >&2; }

want_version() {
	case $1 in
	etcd) echo "$ETCD_VERSION" ;;
	*) echo "$KUBE_VERSION" ;;
	esac
}

package_of() {
	case $1 in
	etcd) echo ./cmd/etcd ;;
	*) echo "k8s.io/kubernetes/cmd/$1" ;;
	esac
}

# reported_version NAME PATH prints the version the binary says it is.
reported_version() {
	case $1 in
	kube-apiserver | kube-controller-manager) "$2" --version 2>/dev/null | awk '{print $2}' ;;
	kubectl) "$2" version --client 2>/dev/null | awk '/^Client Version:/ {print $3}' ;;
	etcd) "$2" --version 2>/dev/null | awk '/^etcd Version:/ {print "v" $3}' ;;
	esac
}

up_to_date() {
	local bin=$tools_dir/$1 want
	want=$(want_version "$1")
	[[ -x $bin ]] || return 1
	grep -qx "$1 $want" "$stamp" 2>/dev/null || return 1
	[[ $(reported_version "$1" "$bin") == "$want" ]]
}

record() { # record NAME VERSION: replace NAME's line in the stamp file
	local tmp
	tmp=$(mktemp "$stamp.XXXXXX")
	{
		echo "# versions of the binaries built by hack/kube/build.sh; do not edit"
		grep -v -e "^$1 " -e '^#' "$stamp" 2>/dev/null || true
		echo "$1 $2"
	} >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$stamp"
}

prepare_module() {
	mkdir -p "$src_dir/cmd/etcd"
	sed -e "s/@KUBE_VERSION@/$KUBE_VERSION/g" -e "s/@STAGING_VERSION@/$STAGING_VERSION/g" \
		-e "s/@ETCD_VERSION@/$ETCD_VERSION/g" "$here/go.mod.tmpl" >"$src_dir/go.mod.new"
	# Keep go.sum (and skip the tidy) when the recipe has not changed.
	if ! cmp -s "$src_dir/go.mod.new" "$src_dir/go.mod.recipe" 2>/dev/null ||
		! cmp -s "$here/tools.go.tmpl" "$src_dir/tools.go" ||
		! cmp -s "$here/etcd.go.tmpl" "$src_dir/cmd/etcd/main.go" ||
		[[ ! -s $src_dir/go.sum ]]; then
		log "preparing scratch module in $src_dir"
		cp "$src_dir/go.mod.new" "$src_dir/go.mod"
		rm -f "$src_dir/go.sum"
		cp "$here/tools.go.tmpl" "$src_dir/tools.go"
		cp "$here/etcd.go.tmpl" "$src_dir/cmd/etcd/main.go"
		(cd "$src_dir" && "$GO" mod tidy)
		cp "$src_dir/go.mod.new" "$src_dir/go.mod.recipe"
	fi
	rm -f "$src_dir/go.mod.new"
	# Tidy must not have moved the pins (a newer requirement elsewhere in
	# the graph would): the stamp would then lie.
	local got
	got=$(cd "$src_dir" && "$GO" list -m -f '{{.Version}}' k8s.io/kubernetes go.etcd.io/etcd/server/v3 | tr '\n' ' ')
	if [[ $got != "$KUBE_VERSION $ETCD_VERSION " ]]; then
		log "module graph resolved k8s.io/kubernetes and etcd to '$got', want '$KUBE_VERSION $ETCD_VERSION'"
		exit 1
	fi
}

build_one() {
	local name=$1 out=$tools_dir/$1 pkg ldflags start
	pkg=$(package_of "$name")
	ldflags="-s -w"
	if [[ $name != etcd ]]; then
		for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
		done
	fi
	log "building $name $(want_version "$name") ($pkg)"
	start=$SECONDS
	(cd "$src_dir" && "$GO" build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
	mv -f "$out.tmp" "$out"
	local got
	got=$(reported_version "$name" "$out")
	if [[ $got != "$(want_version "$name")" ]]; then
		log "$name reports version '$got', want $(want_version "$name")"
		exit 1
	fi
	record "$name" "$got"
	log "built $name $got in $((SECONDS - start))s ($(du -h "$out" | cut -f1))"
}

main() {
	local force=false check=false
	case ${1:-} in
	--force) force=true ;;
	--check) check=true ;;
	"") ;;
	*)
		echo "usage: $0 [--check|--force]" >&2
		exit 2
		;;
	esac

	local todo=()
	for name in "${TOOLS[@]}"; do
		if $force || ! up_to_date "$name"; then todo+=("$name"); fi
	done
	if $check; then
		if ((${#todo[@]})); then
			log "out of date: ${todo[*]}"
			exit 1
		fi
		exit 0
	fi
	if ((${#todo[@]} == 0)); then
		log "up to date in $tools_dir ($KUBE_VERSION, etcd $ETCD_VERSION)"
		exit 0
	fi

	mkdir -p "$tools_dir"
	# One build at a time per tools directory.
	exec 9>"$tools_dir/.kube-tools.lock"
	flock 9
	prepare_module
	local start=$SECONDS
	for name in "${todo[@]}"; do
		# Another build may have finished it while we waited for the lock.
		if ! $force && up_to_date "$name"; then continue; fi
		build_one "$name"
	done
	log "done in $((SECONDS - start))s; binaries in $tools_dir"
}

main "$@"
