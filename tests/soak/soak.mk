# tests/soak/soak.mk - the soak test, included by the top-level Makefile.
#   make soak    SOAK_SECONDS (default 180) of mixed echo/time/exec/get/put from
#                many clients against a fresh rpcd, every reply checked, and
#                rpcd's memory and descriptors back to their baseline after.
# make test runs the same script for a few seconds (tests/integration/soak.sh).
SOAK_SECONDS ?= 180
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
soak: all $(SOAK_BIN)
	@B=$(B) SOAK_SECONDS=$(SOAK_SECONDS) bash tests/integration/soak.sh
