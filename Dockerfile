# syntax=docker/dockerfile:1
#
# The ged archive server. Build with BuildKit (the default since Docker 23):
#
#   docker build -t ged .
#
# Runs `ged serve` on 0.0.0.0:8080 as the unprivileged user `ged`, with its data folder
# (search index, staging, and the SQLite catalog and local content when no catalog URL and no
# store are given) in the volume /var/lib/ged. See docs/production.md.

# ---- build -------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

WORKDIR /build
COPY . .

# The registry and the target folder are BuildKit caches: a rebuild after a source change
# recompiles ged only, not its dependencies. The target folder is a cache mount, so the binary
# is copied out of it in the same step. The image's gcc and make build the bundled SQLite and
# jemalloc.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked --bin ged \
 && install -D -m 0755 target/release/ged /out/ged

# ---- run ---------------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: TLS to the S3 store and PostgreSQL. tesseract-ocr, tesseract-ocr-fra and
# poppler-utils (pdftoppm): OCR of scans, found at start. curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates \
        curl \
        poppler-utils \
        tesseract-ocr \
        tesseract-ocr-fra \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ged \
 && useradd --system --uid 10001 --gid ged --home-dir /var/lib/ged --no-create-home \
        --shell /usr/sbin/nologin ged \
 && install -d -o ged -g ged -m 0750 /var/lib/ged

COPY --from=builder /out/ged /usr/local/bin/ged

# Every `ged` command in the container (serve, token, reindex, verify…) works on the same data
# folder. JSON logs for the log collector; override with GED_LOG_FORMAT=text.
ENV GED_DATA_DIR=/var/lib/ged \
    GED_LISTEN=0.0.0.0:8080 \
    GED_LOG_FORMAT=json

USER ged
WORKDIR /var/lib/ged
VOLUME ["/var/lib/ged"]
EXPOSE 8080

# Ready = catalog and store answer and the index follows the catalog (each probe waits up to
# 2 s). A node rebuilding its index at start is not ready for the rebuild's duration (about
# 10 minutes per 10 million documents): raise --start-period for large archives. The URL
# assumes the default port; change it with GED_LISTEN.
HEALTHCHECK --interval=15s --timeout=10s --start-period=5m --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1

# ged finishes requests in flight for up to 30 s after SIGTERM: give it 40 s before SIGKILL
# (`docker stop -t 40`, `stop_grace_period: 40s`, `terminationGracePeriodSeconds: 40`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["ged"]
CMD ["serve"]
