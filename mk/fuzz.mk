# Fuzzing (issue 12). fuzz/fuzz_*.c are libFuzzer targets, one per parser.
#
# make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="ntu config"]: builds every
# target with clang -fsanitize=fuzzer,address,undefined (the library too,
# into build/fuzz/, apart from the normal build), makes the seed corpora
# (scripts/fuzz.sh: synthetic samples from bin/cocodiff-synth and friends,
# the real data copied from ../shared/data/real when it is there, never into
# the repository) and runs each target FUZZ_SECONDS; a crash stops the run
# with the input saved under build/fuzz/crashes/TARGET/. Ends with
# "fuzz: NAME=EXECS ..." per target.
#
# The same targets, linked with fuzz/replay.c instead of libFuzzer, are part
# of `make tests`: tests/9000-fuzz-replay.sh replays the regression inputs
# (tests/data/fuzz/TARGET/, every crash found) in every check, sanitized
# with SANITIZE=1.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer -pthread $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIB_SRCS))
FUZZ_BINS := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_NAMES))
REPLAY_BINS := $(patsubst %,build/fuzz-replay/fuzz_%,$(FUZZ_NAMES))

.PHONY: fuzz fuzz-build
build/fuzz/obj/%.o: src/%.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/obj/core/cli.o: build/version.h
build/fuzz/obj/core/cli.o: CPPFLAGS += -Ibuild
build/fuzz/libcocodiff.a: $(FUZZ_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
build/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h build/fuzz/libcocodiff.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libcocodiff.a $(LDLIBS)
fuzz-build: $(FUZZ_BINS)
fuzz: all fuzz-build
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' scripts/fuzz.sh $(FUZZ_TARGETS)

# Replay programs: the normal compiler and flags (sanitized with SANITIZE=1).
build/fuzz-replay/fuzz_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h $(LIB) $(SAN_OBJS) $(FLAVOUR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< fuzz/replay.c $(LIB) $(LDLIBS)
tests: $(REPLAY_BINS)
