# Wharf: one static binary (pure Go, no cgo) on a minimal base image.
# Build: docker build -t wharf .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wharf ./cmd/wharf \
 && mkdir -p /out/data /out/identity

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wharf /usr/local/bin/wharf
# distroless has no shell to chown with: copy an empty folder owned by nonroot.
COPY --from=build --chown=65532:65532 /out/data /var/lib/wharf
# A cluster's shared identity (wharf identity init; docker-compose.yml).
COPY --from=build --chown=65532:65532 /out/identity /var/lib/wharf-identity
# The data folder: SQLite database (when no PostgreSQL), archive, SSH host key.
# Mount a volume here; the host key must survive container replacement.
WORKDIR /var/lib/wharf
VOLUME ["/var/lib/wharf"]
ENV WHARF_DATA=/var/lib/wharf \
    WHARF_HTTP_ADDR=0.0.0.0:8080 \
    WHARF_SFTP_ADDR=0.0.0.0:2222
EXPOSE 8080 2222
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/wharf"]
CMD ["serve", "--log-format", "json"]
