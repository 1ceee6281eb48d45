# make demo: sets up, builds, and runs the pipeline end to end on bundled
# data (synthetic NTU-format and Kinetics-format archives made by
# cocodiff-synth from datasets/synth), on 2 MPI ranks. Output: demo-out/.
DEMO_OUT ?= demo-out
DEMO_NP ?= 2
DEMO_NTU_SAMPLES ?= 1600
DEMO_KIN_SAMPLES ?= 300
DEMO_EPOCHS ?= 5
DEMO_STREAMS ?= joint bone
DEMO_MODULE ?= true

.PHONY: demo demo-deps
demo-deps:
	@scripts/install-deps.sh --if-root
demo: demo-deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(DEMO_OUT)/text
	@echo "== synth: $(DEMO_NTU_SAMPLES) NTU-format samples, $(DEMO_KIN_SAMPLES) Kinetics-format clips"
	bin/cocodiff-synth --format ntu --samples $(DEMO_NTU_SAMPLES) --seed 1 --out $(DEMO_OUT)/synth-ntu.zip
	bin/cocodiff-synth --format kinetics --samples $(DEMO_KIN_SAMPLES) --seed 1 --out $(DEMO_OUT)/synth-kinetics.tar.gz
	@echo "== prep on $(DEMO_NP) ranks"
	mpirun -np $(DEMO_NP) bin/cocodiff-prep --dataset ntu60 --input $(DEMO_OUT)/synth-ntu.zip --out $(DEMO_OUT)/prep
	mpirun -np $(DEMO_NP) bin/cocodiff-prep --dataset kinetics --input $(DEMO_OUT)/synth-kinetics.tar.gz --out $(DEMO_OUT)/prep
	@echo "== embed: text embeddings of the synthetic benchmark's classes (GloVe + SIF)"
	mpirun -np $(DEMO_NP) bin/cocodiff-embed --descriptions datasets/synth/descriptions.tsv --out $(DEMO_OUT)/text/synth-glove.h5
	@# the module's text: one row per class of the model (the synthetic classes carry NTU60 ids)
	mpirun -np $(DEMO_NP) bin/cocodiff-embed --descriptions datasets/ntu60/descriptions.tsv --out $(DEMO_OUT)/text/ntu60-glove.h5
	@for stream in $(DEMO_STREAMS); do \
	  echo "== train: CTR-GCN (base 16) + CoCoDiff module ($(DEMO_MODULE)) on the synthetic X-Sub split, $$stream stream, $(DEMO_EPOCHS) epochs, $(DEMO_NP) ranks"; \
	  mpirun -np $(DEMO_NP) bin/cocodiff-train --config jobs/synth-$$stream.yaml --set work_dir=$(DEMO_OUT)/train-$$stream \
	      --set cocodiff.module=$(DEMO_MODULE) --set cocodiff.text=$(DEMO_OUT)/text/ntu60-glove.h5 \
	      --set num_epoch=$(DEMO_EPOCHS) --set step=[$$(( $(DEMO_EPOCHS) - 2 ))] --set eval_interval=$(DEMO_EPOCHS) || exit 1; \
	  echo "== eval: the $$stream model on the test split"; \
	  mpirun -np $(DEMO_NP) bin/cocodiff-eval --checkpoint $(DEMO_OUT)/train-$$stream/checkpoint-last.h5 \
	      --data $(DEMO_OUT)/prep/ntu60-xsub.h5 --out $(DEMO_OUT)/eval-$$stream || exit 1; \
	done
	@echo "== ensemble of the streams"
	bin/cocodiff-ensemble $(foreach s,$(DEMO_STREAMS),--scores $(DEMO_OUT)/eval-$(s)/scores.h5) --out $(DEMO_OUT)/ensemble
	@echo "== report: curves, confusion matrices, per-class accuracy, ensemble gain, PCA maps (generated features too)"
	@# NTU60 class names (label k = line k) from the descriptions file
	@awk -F'\t' '!/^#/ && $$1 ~ /^[0-9]+$$/ {print $$2}' datasets/ntu60/descriptions.tsv > $(DEMO_OUT)/class-names.txt
	bin/cocodiff-report --run $(DEMO_OUT)/train-$(firstword $(DEMO_STREAMS)) \
	    $(foreach s,$(DEMO_STREAMS),--eval $(DEMO_OUT)/eval-$(s)) --ensemble $(DEMO_OUT)/ensemble \
	    --class-names $(DEMO_OUT)/class-names.txt --out $(DEMO_OUT)/report.html
	@grep -o '"top1": *[0-9.]*\|"top5": *[0-9.]*' $(DEMO_OUT)/ensemble/metrics.json | head -2 | \
	    sed 's/^/   ensemble /'
	@echo "== demo done: skeletons in $(DEMO_OUT)/prep, text embeddings in $(DEMO_OUT)/text,"
	@echo "   models in $(DEMO_OUT)/train-*, scores in $(DEMO_OUT)/eval-* and $(DEMO_OUT)/ensemble, report $(DEMO_OUT)/report.html"
