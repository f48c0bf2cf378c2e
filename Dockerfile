# icugate container image: a static binary on a distroless-style scratch base,
# running as a non-root user, with config and data as volumes. Works with a
# read-only root filesystem (the only writable path is /var/lib/icugate).
#
#   docker build -t icugate .
#   docker run --read-only -v /etc/icugate:/etc/icugate:ro \
#     -v icugate-data:/var/lib/icugate -p 127.0.0.1:8080:8080 icugate
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" -o /out/icugate ./cmd/icugate \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/icusim ./cmd/icusim \
 && mkdir -p /out/data && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/icugate /usr/local/bin/icugate
COPY --from=build --chown=65532:65532 /out/data /var/lib/icugate
COPY configs/profiles /etc/icugate/profiles
USER 65532:65532
VOLUME ["/etc/icugate", "/var/lib/icugate"]
EXPOSE 8080
# The site config should set outbox.dir under /var/lib/icugate and
# http.listen to 0.0.0.0:8080 inside the container (publish it on loopback
# or the management VLAN only).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/icugate", "health", "-url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/icugate"]
CMD ["run", "-c", "/etc/icugate/site.yaml"]
