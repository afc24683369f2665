#!/usr/bin/env bash
# `make container-check`: the Dockerfile built on each Debian release and the test suite run in
# the image, with the time of each step.
#
#   RELEASES   Debian releases to build on (default "bookworm trixie": Verilator 5.006, 5.032)
#   TESTS      command run in each image (default "make test wave-check")
#   ENGINE     docker or podman (default: docker when its daemon answers, else podman)
#
# The base image is the one the Dockerfile names (debian:RELEASE). When the engine has no such
# image it is made here: debootstrap --variant=minbase from Debian's archive, with the apt
# sources of the official image (the release, -updates, -security), imported under the same name
# (docker.io/library/debian:RELEASE), so the same Dockerfile builds here and on a hosted runner.
# podman runs with tb/container/containers.conf (runc, cgroupfs, no default ulimits).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

RELEASES=${RELEASES:-bookworm trixie}
TESTS=${TESTS:-make test wave-check}
IMAGE=${IMAGE:-avic-cosim}
WORK=$ROOT/target/container
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
APT="$SUDO env DEBIAN_FRONTEND=noninteractive apt-get"

say() { printf "container-check [%s]: %s\n" "$(date +%T)" "$*"; }
die() { printf '\ncontainer-check: error: %s\n' "$*" >&2; exit 1; }

TIMES=()
# step NAME CMD...: runs CMD, records its time, fails the check with NAME when CMD fails.
step() {
  local name=$1; shift
  local t0=$SECONDS rc=0
  say "$name"
  "$@" || rc=$?
  TIMES+=("$(printf '%-34s %5d s' "$name" $((SECONDS - t0)))")
  [ "$rc" = 0 ] || { say "times"; printf '  %s\n' "${TIMES[@]}"; die "$name failed (exit $rc)"; }
}

apt_install() {
  say "installing $*"
  $APT update -qq && $APT install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed; install them by hand or set ENGINE=docker"
}

ENGINE=${ENGINE:-}
if [ -z "$ENGINE" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
case $ENGINE in
  docker)
    docker info >/dev/null 2>&1 || die "docker's daemon does not answer (docker info); unset ENGINE to use podman"
    base_ref() { echo "debian:$1"; }
    base_exists() { docker image inspect "$(base_ref "$1")" >/dev/null 2>&1; }
    eng() { docker "$@"; }
    ;;
  podman)
    command -v podman >/dev/null && command -v runc >/dev/null || apt_install podman runc
    export CONTAINERS_CONF=$ROOT/tb/container/containers.conf
    base_ref() { echo "docker.io/library/debian:$1"; }
    base_exists() { podman image exists "$(base_ref "$1")"; }
    eng() { podman "$@"; }
    ;;
  *) die "ENGINE must be docker or podman, not '$ENGINE'" ;;
esac
say "engine: $(eng --version)"

# The official image's apt sources, so the local base sees the same packages (bookworm's
# rustc-web 1.96 is in bookworm-security; bookworm itself has 1.85).
sources() {
  cat <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $1 $1-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $1-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
}

make_base() {
  local rel=$1 dir=$WORK/rootfs-$1
  command -v debootstrap >/dev/null || apt_install debootstrap
  $SUDO rm -rf "$dir"
  mkdir -p "$WORK"
  $SUDO debootstrap --variant=minbase "$rel" "$dir" http://deb.debian.org/debian >"$WORK/debootstrap-$rel.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap-$rel.log" >&2; die "debootstrap $rel failed (log: $WORK/debootstrap-$rel.log)"; }
  $SUDO rm -f "$dir/etc/apt/sources.list"
  sources "$rel" | $SUDO tee "$dir/etc/apt/sources.list.d/debian.sources" >/dev/null
  $SUDO rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
  $SUDO tar -C "$dir" -c . | eng import --change 'CMD ["bash"]' - "$(base_ref "$rel")" >/dev/null
  $SUDO rm -rf "$dir"
}

# The host's CA bundle for cargo at build time, through read-only mounts of the bundle and of a
# cargo config naming it: where HTTPS goes through a TLS-inspecting proxy, the host trusts its
# CA and the image's own bundle does not. Nothing of it stays in the image (podman only;
# CA_BUNDLE= turns it off).
CA_BUNDLE=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
CA_MOUNTS=()
if [ "$ENGINE" = podman ] && [ -n "$CA_BUNDLE" ] && [ -f "$CA_BUNDLE" ]; then
  mkdir -p "$WORK"
  printf '[http]\ncainfo = "/run/host-ca.crt"\n' >"$WORK/cargo-ca.toml"
  CA_MOUNTS=(-v "$CA_BUNDLE:/run/host-ca.crt:ro" -v "$WORK/cargo-ca.toml:/root/.cargo/config.toml:ro")
fi

VERSIONS=()
for rel in $RELEASES; do
  if base_exists "$rel"; then
    say "base $(base_ref "$rel") is present"
  else
    step "base $rel (debootstrap + import)" make_base "$rel"
  fi
  build=(build --build-arg "DEBIAN=$rel" -t "$IMAGE:$rel")
  [ "$ENGINE" = podman ] && build+=(--network host "${CA_MOUNTS[@]}")
  build+=(.)
  step "image $IMAGE:$rel (build)" eng "${build[@]}"
  v=$(eng run --rm "$IMAGE:$rel" sh -c 'verilator --version; rustc --version; cargo --version') \
    || die "cannot run $IMAGE:$rel"
  say "in $IMAGE:$rel: $(echo "$v" | paste -sd ';' | sed 's/;/; /g')"
  VERSIONS+=("$rel: $(echo "$v" | paste -sd ';' | sed 's/;/; /g')")
  # No network while the tests run: everything they need is in the image.
  step "tests in $IMAGE:$rel ($TESTS)" eng run --rm --network none "$IMAGE:$rel" bash -c "$TESTS"
done

echo
say "passed on: $RELEASES"
printf '  %s\n' "${VERSIONS[@]}"
say "times"
printf '  %s\n' "${TIMES[@]}"
