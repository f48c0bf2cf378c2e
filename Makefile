# Convenience targets; the scripts under scripts/ are the source of truth.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test demo bench check arm64 fmt

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

arm64:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/linux-arm64/ ./cmd/...

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh

bench:
	./scripts/bench.sh

check: build
	./bin/icugate check -c configs/example-site.yaml
	./bin/icugate check -c configs/demo-site.yaml

fmt:
	gofmt -w $$(git ls-files '*.go')
