# make ucla UCLA_ZIP=path/to/all_sqe.zip: NW-UCLA from the archive to a test
# accuracy, on UCLA_NP MPI ranks: prep (UCLA_OUT/prep/ucla.h5: views 1-2
# train, view 3 test), embed (the class descriptions, GloVe + SIF, for the
# CoCoDiff module), train (jobs/ucla-UCLA_STREAM.yaml: the official
# config/ucla/default.yaml recipe unless the knobs below say otherwise) and
# eval on the test split. Output: UCLA_OUT/{prep,text,train-STREAM,eval-STREAM}.
# Knobs: UCLA_STREAM joint|bone|joint-motion|bone-motion; UCLA_EPOCHS (65),
# UCLA_REPEAT (5), UCLA_STEP (50; the lr drop), UCLA_WARMUP (5), UCLA_SEED (1),
# UCLA_MODULE (false: the backbone alone; true: + the CoCoDiff module),
# UCLA_THREADS (compute threads per rank), UCLA_EVAL_INTERVAL (epochs between
# test evaluations). The full recipe is 20,670 steps of batch 16: hours on a
# few cores (README "NW-UCLA" has measured rates and a shorter schedule).
UCLA_ZIP ?=
UCLA_OUT ?= ucla-out
UCLA_NP ?= 2
UCLA_STREAM ?= joint
UCLA_EPOCHS ?= 65
UCLA_REPEAT ?= 5
UCLA_STEP ?= 50
UCLA_WARMUP ?= 5
UCLA_SEED ?= 1
UCLA_MODULE ?= false
UCLA_THREADS ?= 1
UCLA_EVAL_INTERVAL ?= 5

.PHONY: ucla
ucla: demo-deps
	@[ -n "$(UCLA_ZIP)" ] && [ -r "$(UCLA_ZIP)" ] || { echo "make ucla: set UCLA_ZIP to the NW-UCLA archive (all_sqe.zip)"; exit 2; }
	@$(MAKE) --no-print-directory all
	@mkdir -p $(UCLA_OUT)/text
	@echo "== prep: $(UCLA_ZIP) on $(UCLA_NP) ranks"
	mpirun -np $(UCLA_NP) bin/cocodiff-prep --dataset ucla --input $(UCLA_ZIP) --out $(UCLA_OUT)/prep
	@echo "== embed: the NW-UCLA class descriptions (GloVe + SIF)"
	mpirun -np $(UCLA_NP) bin/cocodiff-embed --descriptions datasets/ucla/descriptions.tsv --out $(UCLA_OUT)/text/ucla-glove.h5
	@echo "== train: CTR-GCN, $(UCLA_STREAM) stream, $(UCLA_EPOCHS) epochs x repeat $(UCLA_REPEAT), lr step [$(UCLA_STEP)], module $(UCLA_MODULE), seed $(UCLA_SEED)"
	mpirun -np $(UCLA_NP) bin/cocodiff-train --config jobs/ucla-$(UCLA_STREAM).yaml \
	    --set work_dir=$(UCLA_OUT)/train-$(UCLA_STREAM) \
	    --set train_feeder_args.data_path=$(UCLA_OUT)/prep/ucla.h5 --set test_feeder_args.data_path=$(UCLA_OUT)/prep/ucla.h5 \
	    --set num_epoch=$(UCLA_EPOCHS) --set train_feeder_args.repeat=$(UCLA_REPEAT) --set step=[$(UCLA_STEP)] \
	    --set warm_up_epoch=$(UCLA_WARMUP) --set seed=$(UCLA_SEED) --set eval_interval=$(UCLA_EVAL_INTERVAL) \
	    --set cocodiff.threads=$(UCLA_THREADS) --set cocodiff.module=$(UCLA_MODULE) \
	    --set cocodiff.text=$(UCLA_OUT)/text/ucla-glove.h5
	@echo "== eval: the $(UCLA_STREAM) model on the test split (view 3)"
	mpirun -np $(UCLA_NP) bin/cocodiff-eval --checkpoint $(UCLA_OUT)/train-$(UCLA_STREAM)/checkpoint-last.h5 \
	    --data $(UCLA_OUT)/prep/ucla.h5 --out $(UCLA_OUT)/eval-$(UCLA_STREAM)
	@echo "== ucla done: scores and metrics in $(UCLA_OUT)/eval-$(UCLA_STREAM)"
