# tests/soak/soak.mk - the soak test, included by the top-level Makefile.
#   make soak    SOAK_SECONDS (default 180) of mixed echo/time/exec/get/put from
#                many clients against a fresh rpcd, every reply checked, and
#                rpcd's memory and descriptors back to their baseline after;
#                then the file tests with a SOAK_SPARSE (5G: sizes past 32
#                bits) sparse file streamed through get in bounded memory.
# make test runs the same soak script for a few seconds
# (tests/integration/soak.sh) and the file tests with a 1G sparse file.
# .ci/run runs make soak.
SOAK_SECONDS ?= 180
SOAK_SPARSE ?= 5G
SOAK_SRCS := tests/soak/soak.c
SOAK_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(SOAK_SRCS))
SOAK_BIN := $(B)/tests/soak

$(SOAK_OBJS): $(B)/obj/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(SOAK_BIN): $(SOAK_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# make test needs it too.
test-progs: $(SOAK_BIN)

.PHONY: soak
soak: all test-progs $(SOAK_BIN)
	@B=$(B) SOAK_SECONDS=$(SOAK_SECONDS) TEST_JOBS=1 TESTS=integration/soak.sh ./tests/run.sh
	@B=$(B) FILE_TEST_SPARSE=$(SOAK_SPARSE) TEST_JOBS=1 TESTS=integration/file.sh ./tests/run.sh
