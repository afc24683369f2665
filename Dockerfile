# avic-cosim in a container, on Debian's own toolchain: Verilator, g++, zlib and Rust
# (rustc-web, cargo-web: Rust 1.96) all from the distribution. The default command runs the
# test suite (make test).
#
#   DEBIAN=bookworm   Verilator 5.006 (the default)
#   DEBIAN=trixie     Verilator 5.032
#
#   podman build --build-arg DEBIAN=trixie -t avic-cosim:trixie .   (or docker build)
#   podman run --rm avic-cosim:trixie                              # make test
#   podman run --rm avic-cosim:trixie make wave-check              # GTKWave under Xvfb
#
# `make container-check` builds and tests both, making the debian:RELEASE base with debootstrap
# where no registry can be reached (tb/container/check.sh).
ARG DEBIAN=bookworm
FROM debian:${DEBIAN}

ENV DEBIAN_FRONTEND=noninteractive

# Distribution packages, unpinned on purpose: each release's own Verilator is the one under
# test (build.rs checks for 5.006 or newer). gtkwave, xvfb and imagemagick are for
# `make wave-check`.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       ca-certificates verilator g++ make zlib1g-dev rustc-web cargo-web \
       gtkwave xvfb imagemagick \
    && rm -rf /var/lib/apt/lists/* \
    && verilator --version && rustc --version && cargo --version

WORKDIR /src

# Crates first: this layer stays cached while only sources change (the manifest names every
# target's path, so cargo fetch needs no sources).
COPY Cargo.toml Cargo.lock ./
RUN cargo fetch --locked

COPY . .
# Everything the tests build with cargo, built now: the tests, the tool, the waveform example.
# What is still built when the tests run: the user-RTL models of the byo, coverage and mutants
# tests (Verilator and g++ into the runtime cache, ~/.cache/avic-cosim).
RUN cargo test --release --locked --no-run \
    && cargo build --release --locked --example wave_c1

CMD ["make", "test"]
