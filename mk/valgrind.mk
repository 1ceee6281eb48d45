# make valgrind [VALGRIND_TESTS="tests/1050-ctrgc.t ..."]: the core unit
# tests under valgrind memcheck (scripts/valgrind-run.sh: errors and
# definite/indirect leaks fail; Open MPI's start-up state is suppressed,
# tests/sanitize/valgrind.supp says why). A plain build (valgrind cannot run
# SANITIZE=1 binaries). The default set is every unit test that runs in
# seconds natively; the gradient checks and whole-model tests (1050, 1070,
# 1200, 2010, 2020, 2030: 2-6 min each under valgrind) are clean too but
# left to an explicit VALGRIND_TESTS (docs/reliability.md has the figures).
VALGRIND_TESTS ?= $(addprefix tests/,0100-blas.t 1000-conv.t 1010-batchnorm.t 1020-act-pool-linear-loss.t \
	1030-layers-torch.t 1040-graph.t 1051-ctrgc-torch.t 1060-layernorm-gelu.t 1100-safetensors.t \
	1110-clip-tokenizer.t 1120-clip-text.t 1210-cocodiff-parts.t 1220-cocodiff-ddpm.t 1230-diversity.t \
	2000-ctrgcn-ref.t 2100-feeder.t 2200-config.t 2210-optim.t 2220-job-configs.t 3010-ntu-parse.t \
	3020-split-counts.t 3200-kinetics.t 3300-ref-ntu.t \
	3400-descriptions.t 5301-eval-ranking.t 6001-ensemble-files.t)
.PHONY: valgrind
valgrind:
ifeq ($(SANITIZE),1)
	$(error make valgrind needs a plain build: valgrind cannot run the sanitizers' binaries)
endif
	@$(MAKE) --no-print-directory all tests
	scripts/valgrind-run.sh $(VALGRIND_TESTS)
