# The two commands of the README: `make demo` (the main job) and `make test` (everything tested).
# Both install what is missing (scripts/install-deps) and build first.
BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30

.PHONY: deps build test demo test-sanitize test-fuzz clean

deps:
	scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DARIOSO_WITH_TORCH=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/app/arioso demo

test: build
	npm ci --prefix tests/browser --no-audit --no-fund
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	$(MAKE) test-sanitize test-fuzz

# ASan + UBSan over the torch-free libraries and their tests.
test-sanitize: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARIOSO_WITH_TORCH=OFF -DARIOSO_SANITIZE=ON >/dev/null
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) -LE torch

# libFuzzer on the MIDI reader for a short fixed time, then its corpus replayed as a test.
test-fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARIOSO_WITH_TORCH=OFF -DARIOSO_BUILD_TESTS=OFF -DARIOSO_FUZZ=ON >/dev/null
	cmake --build $(BUILD)-fuzz -j$(JOBS) --target smf_reader_fuzz
	mkdir -p $(BUILD)-fuzz/corpus && cp fuzz/corpus/* $(BUILD)-fuzz/corpus/
	$(BUILD)-fuzz/fuzz/smf_reader_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 $(BUILD)-fuzz/corpus fuzz/corpus 2>&1 | tail -n 12

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
