# tests/tests.mk - test programs, included by the top-level Makefile.
# tests/unit/NAME.c  -> $(B)/tests/unit_NAME   (cmocka; may use lib/ internals)
# tests/fault/NAME.c -> $(B)/tests/fault_NAME  (real sockets against a real rpcd)
UNIT_SRCS := $(wildcard tests/unit/*.c)
FAULT_SRCS := $(wildcard tests/fault/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit_%,$(UNIT_SRCS))
FAULT_BINS := $(patsubst tests/fault/%.c,$(B)/tests/fault_%,$(FAULT_SRCS))
# tests/fault/peer/*.c: helpers shared by the fault programs (a subdirectory,
# so the wildcard above does not make programs of them), linked into each.
FAULT_PEER_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/fault/peer/*.c))
TEST_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(UNIT_SRCS) $(FAULT_SRCS)) $(FAULT_PEER_OBJS)
TEST_LIBS = $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

test-progs: $(UNIT_BINS) $(FAULT_BINS)

$(B)/tests/unit_%: $(B)/obj/tests/unit/%.o $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(B)/tests/fault_%: $(B)/obj/tests/fault/%.o $(FAULT_PEER_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)
