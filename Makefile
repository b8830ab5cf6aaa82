# meshd — the two commands a fresh machine needs are `make demo` and `make test`.
.PHONY: all setup build test test-unit test-corpus test-fuzz demo bench lint clean

NODE ?= node

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@npx tsc -p tsconfig.json

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

demo: build
	@bash scripts/demo.sh

bench: build
	@$(NODE) --expose-gc dist/bench/policy.js

clean:
	rm -rf dist
