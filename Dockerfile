# sync-manager in an empty image: one static binary that serves the dashboard, the REST API
# and its docs on port 8000, with its SQLite database in the /data volume.
#
#   docker build -t sync-manager .
#   docker run -d -p 8000:8000 -v sync-manager-data:/data --name sync-manager sync-manager
#   docker logs sync-manager        # the admin key (once, on a new database) and the URL
#
# The build stage makes a static glibc binary (as fast as the dynamic one, see README
# "Static binary"); .ci/container runs the same build command on the host and builds the
# runtime stage below from its output, then checks the container.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target x86_64-unknown-linux-gnu --bin sync-manager
RUN mkdir -p /out/data && cp target/x86_64-unknown-linux-gnu/release/sync-manager /out/sync-manager

FROM scratch
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/sync-manager /sync-manager
USER 65532:65532
ENV DATABASE_URL=sqlite:///data/sync-manager.db?mode=rwc
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=3 CMD ["/sync-manager", "health", "--url", "http://127.0.0.1:8000/health"]
LABEL org.opencontainers.image.title="sync-manager" \
      org.opencontainers.image.description="Multi-tenant data synchronisation hub: import, sync, snapshots, warnings, dashboard" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://example.invalid/sync-manager"
ENTRYPOINT ["/sync-manager"]
CMD ["serve", "--bind", "0.0.0.0:8000"]
