# Build: the release binary.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin biotz && strip target/release/biotz

# Run: a small Debian image, a non-root user, nothing but the binary and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/biotz --create-home biotz \
 && install -d -o biotz -g biotz /var/lib/biotz/receiver
COPY --from=build /src/target/release/biotz /usr/local/bin/biotz
USER biotz
WORKDIR /var/lib/biotz
ENV BIOTZ_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/biotz/biotz.db \
    BIOTZ_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["biotz"]
CMD ["serve"]
