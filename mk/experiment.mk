# make experiment: the CoCoDiff module's proof experiment on the synthetic
# benchmark (backbone alone vs + CoCoDiff over seeds, ablation rows), about
# an hour on 2 cores; writes docs/results.md. Knobs: EXP_SEEDS,
# EXP_ABLATION_SEEDS, EXP_EPOCHS, EXP_NP, EXP_ROWS, EXP_OUT (see
# scripts/experiment.sh). Runs already done in EXP_OUT are kept.
.PHONY: experiment
experiment: demo-deps
	@$(MAKE) --no-print-directory all
	@bash scripts/experiment.sh
