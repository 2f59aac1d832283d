# The two commands of the README: `make demo` (the main job) and `make test` (everything tested).
# Both install what is missing (scripts/install-deps) and build first.
BUILD ?= build
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
FUZZ_EXTRA_SECONDS ?= 10

PREFIX ?= /usr/local

.PHONY: deps build test demo install deb test-install test-sanitize test-fuzz clean

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
	$(MAKE) test-install test-sanitize test-fuzz

# The installed tree works without the build folder (a run from the studio test is used).
test-install:
	scripts/test-install $(BUILD) $(BUILD)/studio-test/run

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# A .deb of the build (CPack); depends on the Debian packages it links and on a soundfont.
deb: build
	cd $(BUILD) && cpack -G DEB

# ASan + UBSan over the torch-free libraries and their tests.
test-sanitize: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARIOSO_WITH_TORCH=OFF -DARIOSO_SANITIZE=ON >/dev/null
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) -LE torch

# libFuzzer on the MIDI reader, then on the token-text and corpus/copy-index readers, each for a
# short fixed time (their saved inputs are also replayed as ordinary tests).
test-fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARIOSO_WITH_TORCH=OFF -DARIOSO_BUILD_TESTS=OFF -DARIOSO_FUZZ=ON >/dev/null
	cmake --build $(BUILD)-fuzz -j$(JOBS) --target smf_reader_fuzz
	mkdir -p $(BUILD)-fuzz/corpus && cp fuzz/corpus/* $(BUILD)-fuzz/corpus/
	$(BUILD)-fuzz/fuzz/smf_reader_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 $(BUILD)-fuzz/corpus fuzz/corpus > $(BUILD)-fuzz/smf_reader.log 2>&1; \
	  rc=$$?; tail -n 12 $(BUILD)-fuzz/smf_reader.log; exit $$rc
	cmake --build $(BUILD)-fuzz -j$(JOBS) --target token_decode_fuzz corpus_reader_fuzz
	for t in token_decode corpus_reader; do \
	  mkdir -p $(BUILD)-fuzz/$$t-corpus && cp fuzz/$$t-corpus/* $(BUILD)-fuzz/$$t-corpus/ && \
	  $(BUILD)-fuzz/fuzz/$${t}_fuzz -max_total_time=$(FUZZ_EXTRA_SECONDS) -max_len=8192 -rss_limit_mb=1024 -print_final_stats=1 $(BUILD)-fuzz/$$t-corpus > $(BUILD)-fuzz/$$t.log 2>&1; \
	  rc=$$?; tail -n 4 $(BUILD)-fuzz/$$t.log; [ $$rc -eq 0 ] || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
