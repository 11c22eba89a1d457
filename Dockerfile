# A static (musl) sync-manager binary in an empty image.
# The same build without Docker: see "Static binary" in README.md.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin sync-manager

FROM scratch
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/sync-manager /sync-manager
WORKDIR /data
ENV DATABASE_URL=sqlite:///data/sync-manager.db?mode=rwc
ENTRYPOINT ["/sync-manager"]
CMD ["--help"]
