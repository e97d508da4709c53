# The gateway's everyday commands. `make run` and `make test` work on a fresh clone.
CARGO ?= cargo

.PHONY: run test lint fmt migrate schema bench services python-client node-client peer-postgraphile deploy-check

## Run the gateway on the embedded default (SQLite under ./data, in-process cache); without HubSpot credentials it
## starts the HubSpot simulator and backfills the mirror from it.
run:
	scripts/run

## Every test, on SQLite and on Postgres (Postgres and Redis are started if they are not running), after lint and the
## deploy files' check.
test: lint deploy-check services python-client node-client
	$(CARGO) build -p server --bin server  # the webhook crash test runs the binary itself
	$(CARGO) test --workspace --all-targets

## deploy/compose.yaml validates as Docker Compose reads it (installs docker-compose when missing; no daemon needed).
deploy-check:
	scripts/check-deploy

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

services:
	scripts/ensure-services

## HubSpot's official Python client in target/python-client, for the simulator's fidelity test.
python-client:
	scripts/python-client

## The npm graphql-ws client and graphql-http audit in tests/node/node_modules (subscription and HTTP-spec tests).
node-client:
	scripts/node-client

## PostGraphile v5 and the Node 22 it runs on in tests/peer/node_modules, the peer `make bench` races the gateway
## against (scripts/bench installs it too).
peer-postgraphile:
	scripts/peer-postgraphile

## Apply migrations to DATABASE_URL.
migrate:
	$(CARGO) run -p server -- migrate

## Regenerate schema.graphql from the code (a test fails while it drifts).
schema:
	$(CARGO) run -q -p server -- schema > schema.graphql

## Seed 100k/20k/50k mirrors on SQLite and Postgres and load-test the gateway (on Postgres racing PostGraphile v5,
## which scripts/bench installs), then time a full backfill from the simulator at HubSpot's limit; writes
## BENCHMARKS.md. ARGS passes flags (e.g. ARGS="--only backfill", ARGS="--backend postgres --only race").
bench: services
	scripts/bench $(ARGS)
