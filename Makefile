# meshd — the two commands a fresh machine needs are `make demo` and `make test`.
.PHONY: all setup gen-kafka build build-ts build-bpf test test-unit test-corpus test-fuzz test-bpf test-xds test-proxy test-kafka test-dns test-agent test-e2e test-cluster demo bench bench-bpf bench-xds bench-http bench-kafka bench-dns bench-agent bench-cluster bench-cluster-enforce lint clean

NODE ?= node

all: build

setup:
	@bash scripts/setup.sh

build: setup build-ts build-bpf

build-ts:
	@npx tsc -p tsconfig.json

# eBPF objects (clang -target bpf) into build/bpf/, and the native addon that loads them.
build-bpf:
	@$(MAKE) --no-print-directory -C bpf/progs
	@cd bpf/addon && npx node-gyp rebuild --loglevel=error >/dev/null

lint: build
	@$(NODE) scripts/check-layers.mjs

# Unit tests (beside their modules), the corpus compatibility test and a bounded fuzz run.
test: build lint
	@$(NODE) scripts/run-tests.mjs all

test-unit: build
	@$(NODE) scripts/run-tests.mjs unit

test-corpus: build
	@$(NODE) scripts/run-tests.mjs corpus

test-fuzz: build
	@$(NODE) scripts/run-tests.mjs fuzz

test-bpf: build
	@$(NODE) scripts/run-tests.mjs bpf

test-xds: build
	@$(NODE) scripts/run-tests.mjs xds

test-proxy: build
	@$(NODE) scripts/run-tests.mjs proxy

test-kafka: build
	@$(NODE) scripts/run-tests.mjs kafka

test-dns: build
	@$(NODE) scripts/run-tests.mjs dns

test-agent: build
	@$(NODE) scripts/run-tests.mjs agent

test-e2e: build
	@$(NODE) scripts/run-tests.mjs e2e

test-cluster: build
	@$(NODE) scripts/run-tests.mjs cluster

demo: build
	@bash scripts/demo.sh

bench: build
	@$(NODE) --expose-gc dist/bench/policy.js

bench-bpf: build
	@$(NODE) dist/bench/bpf.js

bench-xds: build
	@$(NODE) --expose-gc dist/bench/xds.js

bench-http: build
	@$(NODE) dist/bench/http.js

bench-kafka: build
	@$(NODE) dist/bench/kafka.js

bench-dns: build
	@$(NODE) dist/bench/dns.js

bench-agent: build
	@$(NODE) dist/bench/agent-apply.js

bench-cluster: build
	@$(NODE) dist/bench/cluster-identities.js

# New pod -> enforced on another node; it needs the test fabric, so it lives in test/cluster.
bench-cluster-enforce: build
	@$(NODE) dist/test/cluster/fabric-enforce.js

# Regenerate the Kafka codec's schema extract and generated types. KAFKA_SCHEMAS is the
# clients/src/main/resources/common/message directory of an apache/kafka checkout; without it only
# generated/messages.ts is rebuilt from the committed messages.json.
KAFKA_SCHEMAS ?=
gen-kafka:
	@if [ -n "$(KAFKA_SCHEMAS)" ]; then $(NODE) scripts/kafka-schemas/extract.mjs $(KAFKA_SCHEMAS); fi
	@$(NODE) scripts/kafka-schemas/generate.mjs

clean:
	rm -rf dist build bpf/addon/build
