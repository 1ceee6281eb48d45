# CoCoDiff-C build. `make` builds every program into bin/, `make check` runs
# the TAP tests through prove, `make demo` runs the pipeline on bundled data.
CC = mpicc
CFLAGS ?= -std=c11 -O2 -g -Wall -Wextra
CFLAGS += -pthread
PKGS := hdf5-openmpi libarchive jansson yaml-0.1 openblas libcrypto libcurl
PKG_OK := $(shell pkg-config --exists $(PKGS) && echo yes)
ifneq ($(PKG_OK),yes)
  $(info ✗ missing libraries: run `make deps` (scripts/install-deps.sh, as root))
endif
CPPFLAGS += -Iinclude -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# OpenMPI + HDF5 use the MPI launcher for parallel tests; root needs these.
export OMPI_ALLOW_RUN_AS_ROOT = 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM = 1
export OMPI_MCA_rmaps_base_oversubscribe = 1
export OPENBLAS_NUM_THREADS = 1

# src/ holds one folder per stage or layer (README "Layout"); src/main/ the
# program drivers, everything else goes into build/libcocodiff.a.
SRC_DIRS := core io data model text train eval synth
LIB_SRCS := $(foreach d,$(SRC_DIRS),$(wildcard src/$(d)/*.c))
LIB_OBJS := $(patsubst src/%.c,build/%.o,$(LIB_SRCS))
MAIN_SRCS := $(wildcard src/main/main_*.c)
# src/main/main_foo_bar.c builds bin/cocodiff-foo-bar.
prog_of = bin/cocodiff-$(subst _,-,$(patsubst src/main/main_%.c,%,$(1)))
PROGS := $(foreach m,$(MAIN_SRCS),$(call prog_of,$(m)))
TEST_SRCS := $(wildcard tests/[0-9]*.c)
TEST_PROGS := $(TEST_SRCS:.c=.t)
TAP_SRCS := $(wildcard tests/tap/*.c)
TAP_OBJS := $(patsubst tests/tap/%.c,build/tap/%.o,$(TAP_SRCS))
LIB := build/libcocodiff.a

.PHONY: all deps check demo clean warnings tests
# Keep object files make would otherwise delete as intermediates.
.SECONDARY:
all: $(PROGS)

deps:
	scripts/install-deps.sh

build/%.o: src/%.c $(wildcard include/*.h src/*/*.h) | build
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
build/tap/%.o: tests/tap/%.c $(wildcard tests/tap/*.h) | build
	@mkdir -p build/tap
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -c -o $@ $<
build:
	@mkdir -p build bin
$(LIB): $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
define prog_rule
$(call prog_of,$(1)): $(1) $(LIB) $(wildcard include/*.h) | build
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) -o $$@ $$< $$(LIB) $$(LDLIBS)
endef
$(foreach m,$(MAIN_SRCS),$(eval $(call prog_rule,$(m))))
tests/%.t: tests/%.c $(LIB) $(TAP_OBJS) $(wildcard include/*.h tests/tap/*.h)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< $(TAP_OBJS) $(LIB) $(LDLIBS)

tests: $(TEST_PROGS)

# Every test speaks TAP; MPI tests are shell tests that launch mpirun -np 2.
# Installs what is missing first (a no-op when present), then builds in a
# fresh make so pkg-config sees the installed libraries.
check:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory all tests
	prove -j2 --timer tests/*.t $(wildcard tests/*.sh)

warnings:
	$(MAKE) clean && $(MAKE) CFLAGS="-std=c11 -O2 -g -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion" all tests

clean:
	rm -rf build bin/cocodiff-* tests/*.t

include mk/demo.mk
include mk/bench.mk
include mk/embed.mk
include mk/experiment.mk
include mk/ucla.mk
