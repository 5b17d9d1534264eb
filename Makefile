# syneg: one non-recursive Makefile.
#   make            build/libsyneg.a and build/syneg
#   make test       every test; the last line is "N passed, N failed, N skipped"
#   make test-asan  the same suite built with -fsanitize=address,undefined (build/asan)
#   make bench      benchmarks, each printing a ratio against a peer measured in the same run
#   make demo       build, then open the TUI on sessions/demo
#   make install PREFIX=/usr/local    make clean
# Missing Debian packages are installed by the first build (apt-get as root;
# otherwise the exact command is printed and the build stops).

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc
SHARED_DATA ?= $(abspath ../shared/data)

DEB_PKGS   := pkg-config libncurses-dev libcurl4-openssl-dev libjansson-dev \
              libopenblas-dev libreadline-dev libstemmer-dev libutf8proc-dev tmux python3
# the benchmarks' peers: SQLite FTS5, Xapian (a C++ co-process built with g++),
# PyTorch and FAISS for /usr/bin/python3, GNU time for peak RSS
BENCH_PKGS := libsqlite3-dev sqlite3 libxapian-dev g++ python3-numpy python3-torch python3-faiss time
PKGS       := ncursesw libcurl jansson openblas readline libutf8proc

OPT      ?= -O2
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -g $(OPT) -pthread
ifeq ($(SAN),1)
  OPT := -O1
  CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

ENGINE_SRC := $(sort $(wildcard engine/*.c))
TUI_SRC    := $(sort $(wildcard tui/*.c))
TEST_SRC   := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC  := $(sort $(wildcard tests/bench/bench_*.c))
TOOL_SRC   := $(sort $(wildcard tests/tools/*.c))

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ    := $(TUI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN   := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all test test-asan bench demo install clean deps check-boundary fuzz fuzz-build fuzz-deps
all: $(BUILD)/syneg

# ---- dependencies: checked once, then pkg-config flags cached in config.mk ----
ifeq ($(filter clean,$(MAKECMDGOALS)),)
-include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: Makefile
	@mkdir -p $(BUILD)
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
	  else \
	    echo "syneg needs these Debian packages:$$missing"; \
	    echo "run:  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))" > $@.tmp
	@echo "PKG_LIBS := $$(pkg-config --libs $(PKGS)) -lstemmer -lm" >> $@.tmp
	@mv $@.tmp $@

deps: $(BUILD)/config.mk

CFLAGS_ALL = $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS)

$(BUILD)/%.o: %.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libsyneg.a: $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/syneg: $(TUI_OBJ) $(BUILD)/libsyneg.a
	$(CC) $(LDFLAGS) -o $@ $(TUI_OBJ) $(BUILD)/libsyneg.a $(PKG_LIBS) -pthread

$(BUILD)/tests/%: tests/unit/%.c tests/check.h $(BUILD)/libsyneg.a | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iengine -o $@ $< $(BUILD)/libsyneg.a $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libsyneg.a | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iengine -o $@ $< $(BUILD)/libsyneg.a $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libsyneg.a | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iengine -o $@ $< $(BUILD)/libsyneg.a $(LDFLAGS) $(PKG_LIBS) $(BENCH_LIBS)

$(BUILD)/bench/peer_bm25_xapian: tests/bench/bench_bm25_xapian.cc
	@mkdir -p $(dir $@)
	$(CXX) -O2 -g -Wall -Wextra -o $@ $< -lxapian

test: $(BUILD)/syneg $(TEST_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) SYNEG=$(abspath $(BUILD)/syneg) SHARED_DATA=$(SHARED_DATA) sh tests/run.sh

test-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test

bench-deps:
	@missing=""; for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
	  else echo "run:  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	fi

bench: BENCH_LIBS = -lsqlite3
bench: bench-deps $(BUILD)/syneg $(TOOL_BIN)
	@$(MAKE) --no-print-directory $(BENCH_BIN) $(BUILD)/bench/peer_bm25_xapian BENCH_LIBS=-lsqlite3
	@BUILD=$(BUILD) SYNEG=$(abspath $(BUILD)/syneg) SHARED_DATA=$(SHARED_DATA) sh tests/bench/run.sh

# The demo session ships its data and session.json; on first use its negatives
# are made offline (BM25 mining, then the offline generator): no key, no network.
# Both splits are mined: training reads only the train split's rows, but the
# test queries' suspected false negatives belong in the review queue too (a
# false negative in the test qrels skews every evaluation).
demo: $(BUILD)/syneg
	@if ! ls sessions/demo/negatives/*.seg >/dev/null 2>&1; then \
	  echo "preparing the demo session: BM25 mining, then offline synthesis"; \
	  $(BUILD)/syneg mine sessions/demo --retriever bm25 --range 0:50 --num 8 && \
	  $(BUILD)/syneg mine sessions/demo --retriever bm25 --range 0:50 --num 8 --split test && \
	  $(BUILD)/syneg synth sessions/demo --offline || exit 1; \
	fi
	$(BUILD)/syneg tui sessions/demo

install: $(BUILD)/syneg
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/syneg $(DESTDIR)$(PREFIX)/share/syneg/prompts
	install -m 755 $(BUILD)/syneg $(DESTDIR)$(PREFIX)/bin/syneg
	install -m 644 $(BUILD)/libsyneg.a $(DESTDIR)$(PREFIX)/lib/libsyneg.a
	install -m 644 engine/*.h $(DESTDIR)$(PREFIX)/include/syneg/
	if [ -n "$$(ls prompts 2>/dev/null)" ]; then install -m 644 prompts/* $(DESTDIR)$(PREFIX)/share/syneg/prompts/; fi

# engine/ must stay UI-free: no curses, no readline, no printf/exit.
check-boundary:
	@! grep -nE '#include[[:space:]]*[<"](n?curses|ncursesw/|readline/)' engine/*.[ch] && \
	 ! grep -nE '(^|[^_a-zA-Z])(exit|printf|puts)[[:space:]]*\(' engine/*.c && echo "engine boundary ok"

clean:
	rm -rf build

-include $(ENGINE_OBJ:.o=.d) $(TUI_OBJ:.o=.d)

# ---- fuzzing: libFuzzer harnesses in tests/fuzz/ (clang, ASan + UBSan with
# float-cast-overflow).  `make fuzz` builds them in build/fuzz and runs each
# for FUZZ_SECONDS (default 30; longer by hand: make fuzz FUZZ_SECONDS=3600).
# tests/e2e/fuzz_smoke.sh runs a few seconds of each when clang is present.
FUZZ_SECONDS ?= 30
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN  := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz-deps:
	@missing=""; for p in clang libclang-rt-14-dev; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
	  else echo "run:  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT=-O1 CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unused-command-line-argument -Wno-unknown-pragmas" \
	  LDFLAGS="$(FUZZ_SAN)" build/fuzz/libsyneg.a $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/bin/%)
fuzz: fuzz-build
	@for f in $(FUZZ_SRC:tests/fuzz/%.c=%); do \
	  mkdir -p build/fuzz/corpus/$$f; echo "fuzz $$f for $(FUZZ_SECONDS) s"; \
	  build/fuzz/bin/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 -artifact_prefix=build/fuzz/ \
	    build/fuzz/corpus/$$f tests/fuzz/seeds/$$f 2>&1 | tail -n 3 || exit 1; \
	done
$(BUILD)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/libsyneg.a | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -Iengine -o $@ $< $(BUILD)/libsyneg.a $(LDFLAGS) $(PKG_LIBS)
