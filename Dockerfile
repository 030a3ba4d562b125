# syntax=docker/dockerfile:1.7
#
# exfilwatch container image: a multi-stage build producing a small, non-root runtime image.
#
#   docker build -t exfilwatch:0.1.0 .
#   docker run --rm exfilwatch:0.1.0 --version
#
# Build stage: the release binary. librdkafka is compiled from the rdkafka-sys crate with cmake and linked
# statically (with a static libcurl); it links OpenSSL (libssl3) and zlib dynamically.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make perl pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Manifests first, so the dependency download is cached while only the sources change.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY schemas ./schemas
COPY benches ./benches
# Cache mounts keep the registry and the target directory between builds (BuildKit); the binary is copied out
# of the cached target directory, and its debug info stripped (symbols stay for backtraces).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked --bin exfilwatch \
 && install -D -m 0755 target/release/exfilwatch /out/exfilwatch \
 && strip --strip-debug /out/exfilwatch \
 && /out/exfilwatch --version

# Runtime stage: Debian slim (same release as the builder, so glibc and libssl match), no shell tools added,
# only the shared libraries the binary needs (ldd: libssl3, libcrypto, zlib, libgcc_s, libc) and the CA bundle
# for TLS to the brokers.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 exfilwatch \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin exfilwatch
COPY --from=builder /out/exfilwatch /usr/local/bin/exfilwatch
COPY config/exfilwatch.example.toml /etc/exfilwatch/config.toml
LABEL org.opencontainers.image.title="exfilwatch" \
      org.opencontainers.image.description="Streaming data-exfiltration detector (Kafka consumer group)" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric user so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
EXPOSE 9477
ENV EXFILWATCH_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/exfilwatch"]
CMD ["run", "--config", "/etc/exfilwatch/config.toml"]
