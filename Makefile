# SeedChip: the two commands are `make run` and `make test`; both install what is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: run test deps build asan-test fuzz bench format clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

MODELS ?= ../shared/data/models

# The main job: greedy text from stories260K on the simulated seedchip-v1 (all 256 positions, the
# model's published greedy text, in about ten seconds), with the same decode step timed on the
# h200 model beside it.
run: build
	$(BUILD)/tools/seedchip generate --model $(MODELS)/stories260K.bin \
	  --tokenizer $(MODELS)/tok512.bin -n 256 --temperature 0 --chip seedchip-v1 --compare-chip h200

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEEDCHIP_SANITIZE=ON -DSEEDCHIP_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE 'test_perf|test_conformance'

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSEEDCHIP_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	scripts/run-fuzzers.sh build-fuzz $${FUZZ_SECONDS:-30}

bench: build
	@for b in $(BUILD)/bench/bench_*; do echo "== $$b"; $$b; done

format:
	@git ls-files '*.h' '*.cpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
