# make experiment: can the CoCoDiff module's effect be seen on the synthetic
# benchmark? Hyperparameters chosen on cross-validation folds of the
# training split, then backbone vs module over 10 seeds paired by seed, the
# controls (noise of the same size, shuffled and random texts, no
# generation), a low-data regime with a larger test set and a frozen-backbone
# experiment (scripts/experiment.sh); writes docs/results.md. Many hours on 2
# shared cores, one run at a time under nice; runs already done in EXP_OUT
# are kept, a stopped one resumes. Knobs: EXP_SEEDS, EXP_CONTROL_SEEDS,
# EXP_FOLDS, EXP_EPOCHS, EXP_LOWDATA_*, EXP_HEADS, EXP_STAGES, EXP_NP, EXP_OUT.
.PHONY: experiment
experiment: demo-deps
	@$(MAKE) --no-print-directory all
	@bash scripts/experiment.sh
