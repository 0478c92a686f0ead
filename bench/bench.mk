# The benchmark tools (bench/*.c), one program each, linked with
# libustack.a and built into $(BUILD)/bench/. Included by the Makefile;
# `make bench` builds them and runs bench/run.sh.
BENCH_TOOLS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.PHONY: bench-tools
bench-tools: $(BENCH_TOOLS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libustack.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
