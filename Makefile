# Facet — the two commands a newcomer needs:
#   make run     install what is missing, build, open the demo
#   make check   install what is missing, build, run every test (not the slow suite)
# Others: make slow (long tests), make check-asan (tests under ASan+UBSan),
#         make bench (benchmarks against their peers), make clean.

BUILDDIR ?= build
ASANDIR  ?= build-asan
MESON_OPTS ?=
TEST_OPTS ?= --num-processes 2 --print-errorlogs

.PHONY: all deps build run check slow check-asan bench clean

all: build

deps:
	@build-aux/install-deps.sh

$(BUILDDIR)/build.ninja: | deps
	meson setup $(BUILDDIR) $(MESON_OPTS)

build: deps $(BUILDDIR)/build.ninja
	ninja -C $(BUILDDIR)

run: build
	build-aux/run-demo.sh $(BUILDDIR)

check: build
	meson test -C $(BUILDDIR) --no-suite slow --no-suite bench $(TEST_OPTS)

slow: build
	meson test -C $(BUILDDIR) --suite slow $(TEST_OPTS) --timeout-multiplier 10

check-asan: deps
	[ -f $(ASANDIR)/build.ninja ] || meson setup $(ASANDIR) -Dasan=true -Db_lundef=false
	ninja -C $(ASANDIR)
	meson test -C $(ASANDIR) --no-suite slow --no-suite bench $(TEST_OPTS) --timeout-multiplier 4

bench: build
	meson test -C $(BUILDDIR) --suite bench --verbose --timeout-multiplier 20

clean:
	rm -rf $(BUILDDIR) $(ASANDIR)
