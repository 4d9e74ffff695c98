# Thin entry points; the real work is in scripts/shopctl, tests/run and
# Makefile.apxs (module build and unit tests).
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

.DEFAULT_GOAL := build
.PHONY: run stop status reload build test unit clean distclean

# Install what is missing, build, start PostgreSQL (schema + demo data) and httpd.
run:
	$(ROOT)/scripts/shopctl up

# Stop httpd, then PostgreSQL (data stays in .run/).
stop:
	$(ROOT)/scripts/shopctl down

status:
	$(ROOT)/scripts/shopctl status

# Graceful restart of the running stack with the current configuration:
# render, apache2 -t, -k graceful, wait for the new generation to answer.
reload:
	$(ROOT)/scripts/shopctl reload

build:
	$(ROOT)/scripts/shopctl build

# Everything: unit tests under sanitizers + integration tests on a private stack.
test:
	$(ROOT)/tests/run

unit:
	$(MAKE) -C $(ROOT) -f Makefile.apxs unit

clean:
	$(MAKE) -C $(ROOT) -f Makefile.apxs clean

# Also stop the local stack and delete its data (.run/).
distclean: stop clean
	rm -rf $(ROOT)/.run

# libFuzzer harnesses of the httpd-free library (tests/fuzz/README.md): builds
# them into build/fuzz/ and runs 10,000,000 inputs in all (FUZZ_TOTAL_RUNS);
# tests/run runs the short form (tests/fuzz/run --smoke, 20 s per target).
.PHONY: fuzz
fuzz:
	$(ROOT)/tests/fuzz/run

# Faults under a mixed workload on a private stack, full length (~20-30 s per
# fault); tests/run runs the short form (tests/chaos/run --short).
.PHONY: chaos
chaos:
	$(ROOT)/tests/chaos/run

# Load tests on a private stack (BENCH_SMOKE=1: the short CI mode); see docs/performance.md.
.PHONY: bench
bench:
	$(ROOT)/bench/run

# Losing the PostgreSQL primary (issue 25): 10 failovers in a row on a private
# Patroni cluster (kill -9, switchover, machine lost), order + payment
# throughput with a synchronous vs an asynchronous standby (~10 minutes);
# see docs/scaling.md.
.PHONY: bench-failover
bench-failover:
	$(ROOT)/bench/failover

# Flat cost as data grows (issue 13): the routes and the jobs on a small and a
# large data set (SCALE=1: 1M users, 10M order lines; SCALE=0.1 for a tenth);
# see docs/performance.md.
.PHONY: bench-scale
bench-scale:
	$(ROOT)/bench/scale

# Issue 21: catalog changes (psql, admin PATCH) seen on every node of a private
# 3-node cluster, p99 < 100 ms over 200 changes; stock shown while orders run,
# p99 lag < 1 s. Report in bench/results/freshness.txt (docs/scaling.md).
.PHONY: bench-freshness
bench-freshness:
	$(ROOT)/bench/freshness

# The Debian package libapache2-mod-shop (see docs/deploy.md): installs missing
# build dependencies, runs dpkg-buildpackage -us -uc -b on a copy of the tree in
# build/deb/ and leaves dist/libapache2-mod-shop_<version>_<arch>.deb (lintian-checked).
# DEB_REF=<commit> builds from a commit instead of the working tree.
.PHONY: deb
deb:
	DEB_REF=$(DEB_REF) $(ROOT)/scripts/build-deb

# Issue 9: install the Debian package (DEB=..., default dist/*.deb, built with
# `make deb` if missing) into a fresh Debian 12 root next to apache2 and
# PostgreSQL, smoke it over HTTP, purge it. Root only; see tests/package/README.md.
.PHONY: package-test
package-test:
	$(ROOT)/tests/package/run

# Issue 12: NODES mod_shop nodes (default 3) behind HAProxy on 127.0.0.1:$(SHOP_PORT)
# (default 8080), through PgBouncer (transaction pooling) to one PostgreSQL
# primary with a streaming hot standby; state in .cluster/ (docs/scaling.md).
NODES ?= 3
.PHONY: cluster cluster-stop cluster-status cluster-test
cluster:
	NODES=$(NODES) $(ROOT)/scripts/cluster up

cluster-stop:
	$(ROOT)/scripts/cluster down

cluster-status:
	$(ROOT)/scripts/cluster status

# Races and faults on a private cluster (tests/cluster/run; NODES=2 by default there).
cluster-test:
	NODES=$${CLUSTER_TEST_NODES:-2} $(ROOT)/tests/cluster/run
