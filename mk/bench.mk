# benchmarks (not tests: they print figures and assert nothing).
# make bench-prep [CTRGCN=/path/to/CTR-GCN]: cocodiff-prep samples/s and MB/s
# on 1 and 2 ranks for a 5,000-sample synthetic NTU zip (cached in bench-out/),
# next to the official Python preprocessing (bench/prep_reference.py, run on a
# slice of the same zip when CTRGCN names a checkout of Uason-Chen/CTR-GCN).
# Knobs: BENCH_SAMPLES, BENCH_REPS, BENCH_REF_SAMPLES (see bench/bench-prep.sh).
CTRGCN ?=

.PHONY: bench-prep
bench-prep: all
	@CTRGCN='$(CTRGCN)' bash bench/bench-prep.sh

# make bench-embed: sentences/s of the GloVe+SIF and CLIP text encoders and
# CLIP's effective GFLOP/s next to the sgemm peak of the same run.
.PHONY: bench-embed
build/bench-embed: bench/bench_embed.c $(LIB) $(wildcard include/*.h) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
bench-embed: build/bench-embed
	@OPENBLAS_NUM_THREADS=1 build/bench-embed

# make bench-train [CTRGCN=/path/to/CTR-GCN]: training samples/s, effective
# GFLOP/s (forward MACs x 2 x 3 per sample) next to the sgemm peak, and peak
# RSS of the C CTR-GCN (batch 16, T 64, base 64) for 1 rank x 1 thread,
# 1 rank x 2 threads and 2 ranks x 1 thread, with and without the malloc
# tunables, next to the official PyTorch model (bench/train_reference.py) at
# the same threads when CTRGCN names a checkout. BENCH_SHAPE=ucla: NW-UCLA's
# shape (T 52, 20 joints, 1 person, 10 classes). PROFILE=1: the step's
# profile per layer type instead (time, GFLOP/s, share of the step; at batch
# 16, 4, 2, 1 and on 2 ranks). Knobs: see bench/bench-train.sh.
.PHONY: bench-train
build/bench-train: bench/bench_train.c $(LIB) $(wildcard include/*.h) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
bench-train: build/bench-train bin/cocodiff-embed
	@CTRGCN='$(CTRGCN)' PROFILE='$(PROFILE)' bash bench/bench-train.sh

# make bench-eval [CTRGCN=/path/to/CTR-GCN]: evaluation samples/s of the C
# CTR-GCN backbone (official model, batch 16, T 64, inference forward, random
# weights) on 1 and 2 threads, its parameters and FLOPs per sample, a CoCoDiff
# module checkpoint round trip (same figures after export), next to the
# official PyTorch model's eval (bench/eval_reference.py) at the same threads
# when CTRGCN names a checkout. Knobs: see bench/bench-eval.sh.
.PHONY: bench-eval
build/bench-eval: bench/bench_eval.c $(LIB) $(wildcard include/*.h) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
bench-eval: build/bench-eval
	@CTRGCN='$(CTRGCN)' bash bench/bench-eval.sh

# make bench-dist: microseconds per small collective on 2 ranks with
# the collective watchdog (dist.h) off and on, alternating runs; what it adds
# to a training step. Knobs: BENCH_REPS, BENCH_ITERS.
.PHONY: bench-dist
build/bench-dist: bench/bench_dist.c $(LIB) $(wildcard include/*.h) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
bench-dist: build/bench-dist
	@bash bench/bench-dist.sh

# make bench-scale (root: network namespaces): the measured scaling model
# (docs/scaling.md). Compute time per step at per-rank batch 1-16 on 1 and
# 2 threads; every all-reduce of a step (the synchronised BN's, the
# gradient) timed over TCP between namespace "nodes" on tbf-shaped links;
# the model's prediction against measured 1, 2 and 4-node runs; projections
# to 1-256 nodes (build/scale-model). Knobs: see bench/bench-scale.sh.
.PHONY: bench-scale
build/bench-comm: bench/bench_comm.c $(LIB) $(wildcard include/*.h) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
build/scale-model: bench/scale_model.c | build
	$(CC) $(CFLAGS) -o $@ $< -lm
bench-scale: build/bench-train build/bench-comm build/scale-model
	@bash bench/bench-scale.sh

# make bench-shapes: OpenBLAS sgemm GFLOP/s at the GEMM shapes of a CTR-GCN
# training step (per sample, three channel widths) and stream copy/triad
# GB/s, next to the same run's 1024^3 sgemm peak: the yardstick for the
# profile's rows (docs/performance.md). Knobs: BENCH_FRAMES (64), BENCH_BASE (64).
.PHONY: bench-shapes
build/bench-shapes: bench/bench_shapes.c $(LIB) $(wildcard include/*.h) | build
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
bench-shapes: build/bench-shapes
	@OPENBLAS_NUM_THREADS=1 build/bench-shapes --frames $${BENCH_FRAMES:-64} --base $${BENCH_BASE:-64}
