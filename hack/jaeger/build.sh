#!/usr/bin/env bash
# hack/jaeger/build.sh builds Jaeger all-in-one — the real trace backend the
# tracing tests export to and query — into the tools directory, once.
# `make jaeger` runs it (and `make tools` depends on it); see
# docs/observability.md.
#
#   bash hack/jaeger/build.sh           build when missing or out of date
#   bash hack/jaeger/build.sh --check   exit 0 when up to date, 1 if not
#   bash hack/jaeger/build.sh --force   rebuild
#
# Environment:
#   MESHLITE_TOOLS_DIR or TOOLS_DIR   where the binary goes (default ~/.cache/meshlite/bin)
#   MESHLITE_JAEGER_SRC               scratch module (default ~/.cache/meshlite/src/jaeger)
#   GO                                go command (default: go)
#
# The scratch module lives outside the repository and requires
# github.com/jaegertracing/jaeger at the pinned version as a tool
# (`go get -tool`), so the build resolves exactly the module graph Jaeger
# itself pins. The version built is recorded in $TOOLS_DIR/jaeger.stamp;
# bumping JAEGER_VERSION rebuilds. The first build takes about 11 minutes
# on two cores.
set -euo pipefail

JAEGER_VERSION=v1.76.0
MODULE=github.com/jaegertracing/jaeger
PKG=$MODULE/cmd/jaeger

tools_dir=${MESHLITE_TOOLS_DIR:-${TOOLS_DIR:-$HOME/.cache/meshlite/bin}}
src_dir=${MESHLITE_JAEGER_SRC:-$HOME/.cache/meshlite/src/jaeger}
stamp=$tools_dir/jaeger.stamp
out=$tools_dir/jaeger
GO=${GO:-go}
command -v "$GO" >/dev/null || GO=/usr/local/go/bin/go

# The scratch module is built on its own terms, whatever the caller's
# environment says about workspaces, toolchains or vendoring.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf 'jaeger: %s\n' "$*" >&2; }

# reported_version prints the version the binary says it is.
reported_version() {
	"$out" version 2>/dev/null | sed -n 's/.*"gitVersion":"\([^"]*\)".*/\1/p'
}

up_to_date() {
	[[ -x $out ]] && grep -qx "jaeger $JAEGER_VERSION" "$stamp" 2>/dev/null &&
		[[ $(reported_version) == "$JAEGER_VERSION" ]]
}

prepare_module() {
	mkdir -p "$src_dir"
	if [[ ! -s $src_dir/go.mod ]]; then
		log "preparing scratch module in $src_dir"
		(cd "$src_dir" && "$GO" mod init meshlite.local/jaeger-build)
	fi
	local got
	got=$(cd "$src_dir" && "$GO" list -m -f '{{.Version}}' "$MODULE" 2>/dev/null || true)
	if [[ $got != "$JAEGER_VERSION" ]]; then
		log "requiring $MODULE $JAEGER_VERSION"
		(cd "$src_dir" && "$GO" get -tool "$PKG@$JAEGER_VERSION")
	fi
	got=$(cd "$src_dir" && "$GO" list -m -f '{{.Version}}' "$MODULE")
	if [[ $got != "$JAEGER_VERSION" ]]; then
		log "module graph resolved $MODULE to '$got', want $JAEGER_VERSION"
		exit 1
	fi
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
	if $check; then
		up_to_date && exit 0
		log "out of date or missing: $out"
		exit 1
	fi
	if ! $force && up_to_date; then
		log "up to date: $out ($JAEGER_VERSION)"
		exit 0
	fi
	mkdir -p "$tools_dir"
	# One build at a time per tools directory.
	exec 9>"$tools_dir/.jaeger.lock"
	flock 9
	if ! $force && up_to_date; then exit 0; fi
	prepare_module
	local start=$SECONDS v=$MODULE/internal/version
	log "building jaeger $JAEGER_VERSION (about 11 minutes the first time)"
	(cd "$src_dir" && "$GO" build -trimpath \
		-ldflags "-s -w -X $v.latestVersion=$JAEGER_VERSION" -o "$out.tmp" "$PKG")
	mv -f "$out.tmp" "$out"
	if [[ $(reported_version) != "$JAEGER_VERSION" ]]; then
		log "$out reports version '$(reported_version)', want $JAEGER_VERSION"
		exit 1
	fi
	local tmp
	tmp=$(mktemp "$stamp.XXXXXX")
	printf '# version of the binary built by hack/jaeger/build.sh; do not edit\njaeger %s\n' "$JAEGER_VERSION" >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$stamp"
	log "built $out $JAEGER_VERSION in $((SECONDS - start))s ($(du -h "$out" | cut -f1))"
}

main "$@"
