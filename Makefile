# ustack build. `make` builds the library and the CLI; `make test` runs every
# test tier and ends with "N passed, N failed, N skipped".
#
# Variables: CC, BUILD (output folder), SAN=1 (ASan + UBSan build).

CC      ?= cc
BUILD   ?= build
SAN     ?=
OPT     ?= -O2

WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
CFLAGS  := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -fPIC -Iinclude -Isrc -Itests $(EXTRA_CFLAGS)
LDLIBS  := -lpthread

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  := $(sort $(wildcard src/*/*.c))
APP_SRC  := $(sort $(wildcard apps/ustack/*.c))
TEST_FW  := tests/test_main.c
TIERS    := unit scripted sim
TEST_BIN := $(foreach t,$(TIERS),$(BUILD)/tests/$(t))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
APP_OBJ  := $(APP_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all lib tests test check-clang fuzz bench demo soak clean
all: lib $(BUILD)/ustack
lib: $(BUILD)/libustack.a $(BUILD)/libustack.so

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libustack.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libustack.so: $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/ustack: $(APP_OBJ) $(BUILD)/libustack.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# One binary per test tier: the framework plus every tests/<tier>/*.c.
.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/$(TEST_FW:.c=.o) $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard tests/$$*/*.c))) $(BUILD)/libustack.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test-only helper programs: tests/tools/NAME.c -> $(BUILD)/tools/NAME.
# nfq_impair (the hostile interop tests' NFQUEUE impairer) alone links
# libnetfilter_queue, and is left out when its headers are missing (the
# tests that need it then skip).
HAVE_NFQ := $(shell test -f /usr/include/libnetfilter_queue/libnetfilter_queue.h && echo 1)
TOOL_SRC := $(wildcard tests/tools/*.c)
ifneq ($(HAVE_NFQ),1)
TOOL_SRC := $(filter-out tests/tools/nfq_impair.c,$(TOOL_SRC))
endif
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

$(BUILD)/tools/nfq_impair: LDLIBS += -lnetfilter_queue
ifneq ($(TOOL_SRC),)
.SECONDARY: $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
endif
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests: all $(TEST_BIN) $(TOOL_BIN)

# Every tier: a gcc build, an ASan+UBSan build (with clang when present, so
# both compilers must stay warning-free), then the runner.
SAN_CC := $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
test:
	$(MAKE) --no-print-directory tests
	$(MAKE) --no-print-directory BUILD=build/asan SAN=1 OPT=-O1 CC=$(SAN_CC) tests
	@sh tests/run.sh

# Fuzzing the input path with libFuzzer (clang). FUZZ_SECONDS bounds a run.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
fuzz:
	@sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Nightly-style: the hostile-network TCP simulation (tests/sim/
# test_sim_tcp_hostile.c) over SOAK_SEEDS seeds instead of `make test`'s
# 1000; a failing seed prints the command that replays it.
SOAK_SEEDS ?= 20000
soak: $(BUILD)/tests/sim
	USTACK_HOSTILE_SEEDS=$(SOAK_SEEDS) $(BUILD)/tests/sim tcp_hostile

include bench/bench.mk
bench: all bench-tools
	@BUILD=$(BUILD) bash bench/run.sh

demo: all
	@sh scripts/demo.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
