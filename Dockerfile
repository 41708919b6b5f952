# syntax=docker/dockerfile:1
# mutualauth: a static binary on distroless, running as the nonroot user.
#   docker build -t mutualauth .
#   docker run -p 8080:8080 -v mutualauth-data:/data mutualauth
# docker-compose.yml shows the scaled shape with PostgreSQL and Redis.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/mutualauth . \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/mutualauth /mutualauth
# 65532 is distroless's nonroot user; a new named volume copies this owner.
COPY --from=build --chown=65532:65532 /out/data /data
ENV MUTUALAUTH_LISTEN=0.0.0.0:8080 \
    MUTUALAUTH_DATA_DIR=/data
EXPOSE 8080
VOLUME /data
USER nonroot
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/mutualauth", "healthcheck"]
ENTRYPOINT ["/mutualauth"]
CMD ["serve"]
