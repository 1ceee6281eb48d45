# make soak [SOAK_SECONDS=3600] [SOAK_SEED=1] [SOAK_DIR=build/soak]: training
# and evaluation on 2 ranks for SOAK_SECONDS with every rank SIGKILLed and
# the run resumed at seeded random times (scripts/soak.sh says how), then
# the same schedule uninterrupted; reports steps, resumes, RSS growth per
# hour and whether the final checkpoint, losses and evaluation scores are
# byte-identical. Not in CI (an hour by default, twice over). Niced.
SOAK_SECONDS ?= 3600
SOAK_SEED ?= 1
SOAK_DIR ?= build/soak
.PHONY: soak
soak: all
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_SEED=$(SOAK_SEED) nice scripts/soak.sh $(SOAK_DIR)
