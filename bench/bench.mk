# bench/bench.mk - benchmark programs, included by the top-level Makefile.
#   make bench        the full run (< 5 minutes): table on stdout,
#                     bench/results/latest.json, docs/performance.md
#   make bench-quick  the same figures with small counts (< 30 s); does not
#                     touch docs/performance.md
# bench/raw.c is the raw-socket floor (no library); bench/pbrpc_bench.c the
# pbrpc side, on the public API and generated stubs only.
BENCH_SRCS := bench/raw.c bench/pbrpc_bench.c
BENCH_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(BENCH_SRCS))
BENCH_BINS := $(B)/bench/raw $(B)/bench/pbrpc_bench

$(BENCH_OBJS): $(B)/obj/%.o: %.c bench/bench_util.h | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bench/raw: $(B)/obj/bench/raw.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

$(B)/bench/pbrpc_bench: $(B)/obj/bench/pbrpc_bench.o $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

.PHONY: bench-progs
bench-progs: $(BENCH_BINS)

bench: all $(BENCH_BINS)
	@B=$(B) ./bench/run.sh

bench-quick: all $(BENCH_BINS)
	@B=$(B) ./bench/run.sh --quick
