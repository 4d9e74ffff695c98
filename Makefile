# Thin entry points; the real work is in scripts/shopctl, tests/run and
# Makefile.apxs (module build and unit tests).
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

.DEFAULT_GOAL := build
.PHONY: run stop status build test unit clean distclean

# Install what is missing, build, start PostgreSQL (schema + demo data) and httpd.
run:
	$(ROOT)/scripts/shopctl up

# Stop httpd, then PostgreSQL (data stays in .run/).
stop:
	$(ROOT)/scripts/shopctl down

status:
	$(ROOT)/scripts/shopctl status

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

# Load tests on a private stack (BENCH_SMOKE=1: the short CI mode); see docs/performance.md.
.PHONY: bench
bench:
	$(ROOT)/bench/run

# Issue 9: install the Debian package (DEB=..., default dist/*.deb, built with
# `make deb` if missing) into a fresh Debian 12 root next to apache2 and
# PostgreSQL, smoke it over HTTP, purge it. Root only; see tests/package/README.md.
.PHONY: package-test
package-test:
	$(ROOT)/tests/package/run
