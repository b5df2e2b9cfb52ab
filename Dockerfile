# credential-grafana as a container: build with the Go toolchain, run on Debian with its
# chromium (for the GIFs) as an unprivileged user. `docker compose up` (compose.yaml)
# starts it with PostgreSQL and Grafana.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/credential-grafana .

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-dejavu-core ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/credential-grafana --uid 10001 credential-grafana
COPY --from=build /out/credential-grafana /usr/local/bin/credential-grafana
COPY .env.example slack-app-manifest.yaml /usr/share/credential-grafana/
USER credential-grafana
WORKDIR /var/lib/credential-grafana
ENV HOST=0.0.0.0 PORT=8050 METRICS_ADDR=0.0.0.0:9108 CHROMIUM_PATH=/usr/bin/chromium GIF_CAPTURE_DIR=/var/lib/credential-grafana/captures LOG_FORMAT=json
EXPOSE 8050 9108
HEALTHCHECK --interval=30s --timeout=5s CMD ["credential-grafana", "version"]
ENTRYPOINT ["credential-grafana"]
CMD ["serve", "--env-file", ""]
