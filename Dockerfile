# icugate container image, built from source: for sites whose Docker can
# pull golang:1.26-bookworm. Without registry access, build the release
# image instead (deploy/docker/Dockerfile.release: the release binary on
# scratch, nothing pulled). Both images are laid out alike:
#   /usr/bin/icugate                the gateway (icusim and icuregion are in
#                                   the release archives, not here)
#   /usr/share/icugate/profiles     shipped profiles, outside the config
#                                   mount so it cannot hide them
#   /etc/icugate/site.yaml          the site: mount it read-only
#   /run/secrets                    $CREDENTIALS_DIRECTORY: mount the secrets
#   /var/lib/icugate                state and outbox: the only writable path
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t icugate .
#   docker run -d --read-only -v /etc/icugate:/etc/icugate:ro \
#     -v /etc/icugate/credentials:/run/secrets:ro \
#     -v icugate-data:/var/lib/icugate -p 127.0.0.1:8080:8080 icugate
#
# The site sets profiles_dir /usr/share/icugate/profiles, outbox.dir under
# /var/lib/icugate and http.listen 0.0.0.0:8080 (publish it on loopback or
# the management VLAN only); docs/operations.md, "Container".
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/rootfs/usr/bin/icugate ./cmd/icugate \
 && mkdir -p /out/rootfs/etc/ssl/certs /out/rootfs/usr/share/icugate /out/data \
 && cp /etc/ssl/certs/ca-certificates.crt /out/rootfs/etc/ssl/certs/ \
 && cp -r configs/profiles /out/rootfs/usr/share/icugate/profiles \
 && printf 'root:x:0:0:root:/:/sbin/nologin\nicugate:x:65532:65532:icugate:/var/lib/icugate:/sbin/nologin\n' >/out/rootfs/etc/passwd \
 && printf 'root:x:0:\nicugate:x:65532:\n' >/out/rootfs/etc/group

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="icugate" \
      org.opencontainers.image.description="ICU edge gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/icugate/icugate"
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=65532:65532 /out/data/ /var/lib/icugate/
ENV CREDENTIALS_DIRECTORY=/run/secrets
USER 65532:65532
WORKDIR /var/lib/icugate
VOLUME ["/var/lib/icugate"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/bin/icugate", "health", "-url", "http://127.0.0.1:8080/readyz"]
# SIGTERM: icugate stops polling, makes its last points durable and gives
# InfluxDB up to 5 s; give docker stop at least 30 s (-t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/icugate"]
CMD ["run", "-c", "/etc/icugate/site.yaml", "-data", "/var/lib/icugate"]
