# avic-cosim in a container: Debian bookworm, Verilator 5.006 and g++ from the distribution,
# the Rust toolchain of the official rust image. The default command runs the test suite.
#
#   docker build -t avic-cosim .
#   docker run --rm avic-cosim                   # make test
#   docker run --rm avic-cosim make run          # the demo
#   docker run --rm avic-cosim cargo bench --bench throughput
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm

# Distribution packages, unpinned on purpose: the project supports Verilator 5.006 (bookworm's)
# and newer, and build.rs checks the version it finds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends verilator zlib1g-dev g++ make \
    && rm -rf /var/lib/apt/lists/* \
    && verilator --version \
    && rustup component add rustfmt clippy

WORKDIR /src

# Crates first: this layer stays cached while only sources change.
COPY Cargo.toml Cargo.lock ./
RUN cargo fetch --locked

COPY . .
# Build everything the tests need at image build time, so `docker run` only runs them.
RUN cargo test --release --no-run --locked

CMD ["make", "test"]
