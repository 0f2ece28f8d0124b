# pbrpc - one entry point. Objects and generated code go to $(B) (build/).
#   make            libpbrpc (static + shared), protoc-gen-pbrpc, rpcd, rpcc
#   make gen        regenerate all generated code from proto/ (and examples/)
#   make test       every test; ends with "N passed, N failed" (TEST_JOBS files at once)
#   make test-loaded  make test with every core kept busy (scripts/cpu_hog.sh)
#   make test-asan  the same under AddressSanitizer + UBSan (build-asan/)
#   make test-valgrind  integration tests with rpcd and rpcc under valgrind
#   make fuzz / fuzz-run SECONDS=N   libFuzzer targets (tests/fuzz/)
#   make soak       minutes of mixed load; memory and fds back to baseline
#   make demo       build, start rpcd on a free loopback port, drive every rpcc command
#   make bench      benchmarks against raw-socket baselines
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

B ?= build
CC ?= cc
PREFIX ?= /usr/local
SAN ?=

PKGS := libprotobuf-c libsodium libuv
DEPS_OK := $(B)/.deps-ok

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC \
	-Iinclude -Ilib -I$(B)/gen $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)

SOVERSION := 0
LIBVERSION := 0.1.0

# --- generated code ---------------------------------------------------------
PROTOS := $(wildcard proto/pbrpc/*.proto)
WIRE_GEN := $(B)/gen/pbrpc/wire.pb-c.c
SVC_PROTOS := $(filter-out proto/pbrpc/wire.proto,$(PROTOS))
PBC_SRCS := $(patsubst proto/%.proto,$(B)/gen/%.pb-c.c,$(PROTOS))
STUB_SRCS := $(patsubst proto/%.proto,$(B)/gen/%.pbrpc.c,$(SVC_PROTOS))
GEN_HDRS := $(PBC_SRCS:.c=.h) $(STUB_SRCS:.c=.h)

PLUGIN_PROTO_DIR := /usr/include
PLUGIN_GEN := $(B)/gen/google/protobuf/compiler/plugin.pb-c.c $(B)/gen/google/protobuf/descriptor.pb-c.c
PLUGIN := $(B)/bin/protoc-gen-pbrpc

# --- sources ---------------------------------------------------------------
# Objects of generated code live under $(B)/obj/_gen, of our sources under $(B)/obj.
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS)) \
	$(patsubst $(B)/gen/%.c,$(B)/obj/_gen/%.o,$(PBC_SRCS) $(STUB_SRCS))
RPCD_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard rpcd/*.c))
RPCC_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard rpcc/*.c))
PLUGIN_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(wildcard gen/*.c)) \
	$(patsubst $(B)/gen/%.c,$(B)/obj/_gen/%.o,$(PLUGIN_GEN))

STATIC_LIB := $(B)/lib/libpbrpc.a
SHARED_LIB := $(B)/lib/libpbrpc.so.$(SOVERSION)
BINS := $(B)/bin/rpcd $(B)/bin/rpcc $(PLUGIN)

.PHONY: all gen test test-loaded test-progs test-asan test-valgrind demo bench bench-quick install uninstall clean deps check-asan
.DELETE_ON_ERROR:
.SECONDARY:

all: $(STATIC_LIB) $(SHARED_LIB) $(BINS)

# Installs missing Debian packages (apt-get as root, else prints the command).
$(DEPS_OK): scripts/deps.sh
	@./scripts/deps.sh
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_OK)

# --- generation ---------------------------------------------------------------
$(B)/gen/google/protobuf/%.pb-c.c $(B)/gen/google/protobuf/%.pb-c.h: | $(DEPS_OK)
	@mkdir -p $(B)/gen
	protoc-c -I$(PLUGIN_PROTO_DIR) --c_out=$(B)/gen $(PLUGIN_PROTO_DIR)/google/protobuf/$*.proto

$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto | $(DEPS_OK)
	@mkdir -p $(B)/gen
	protoc-c -Iproto --c_out=$(B)/gen $<

$(B)/gen/%.pbrpc.c $(B)/gen/%.pbrpc.h: proto/%.proto $(PLUGIN)
	@mkdir -p $(B)/gen
	protoc --plugin=protoc-gen-pbrpc=$(PLUGIN) -Iproto --pbrpc_out=$(B)/gen $<

# Examples build against an installed pbrpc (tests/integration/install.sh does);
# here their stubs are regenerated with this tree's plugin, to read and diff.
EXAMPLE_PROTOS := $(wildcard examples/*/*.proto)

gen:
	rm -rf $(B)/gen
	$(MAKE) $(PBC_SRCS) $(STUB_SRCS) $(PLUGIN)
	@for p in $(EXAMPLE_PROTOS); do \
		d=$(B)/gen/$$(dirname $$p); mkdir -p $$d; \
		echo "protoc $$p -> $$d"; \
		protoc --plugin=protoc-gen-pbrpc=$(PLUGIN) -I$$(dirname $$p) \
			--c_out=$$d --pbrpc_out=$$d $$p || exit 1; \
	done

-include tests/tests.mk
-include tests/fuzz/fuzz.mk
-include tests/soak/soak.mk
-include bench/bench.mk

# --- compilation ---------------------------------------------------------------
GEN_CFLAGS = $(ALL_CFLAGS) -Wno-unused-parameter -Wno-missing-prototypes

$(B)/obj/_gen/google/%.o: $(B)/gen/google/%.c | $(PLUGIN_GEN:.c=.h)
	@mkdir -p $(@D)
	$(CC) $(GEN_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/_gen/%.o: $(B)/gen/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(GEN_CFLAGS) -MMD -MP -c -o $@ $<

# The plugin cannot wait for the headers it generates: static pattern rules keep
# each object list to its own prerequisites.
$(filter $(B)/obj/gen/%,$(PLUGIN_OBJS)): $(B)/obj/%.o: %.c | $(PLUGIN_GEN:.c=.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Everything else may include any generated header.
OWN_OBJS = $(filter $(B)/obj/lib/%,$(LIB_OBJS)) $(RPCD_OBJS) $(RPCC_OBJS) $(TEST_OBJS)
$(OWN_OBJS): $(B)/obj/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# --- link ----------------------------------------------------------------------
$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS) lib/libpbrpc.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libpbrpc.so.$(SOVERSION) -Wl,--version-script=lib/libpbrpc.map \
		$(LDFLAGS) -o $@ $(LIB_OBJS) $(PKG_LIBS)
	ln -sf libpbrpc.so.$(SOVERSION) $(B)/lib/libpbrpc.so

$(PLUGIN): $(PLUGIN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/bin/rpcd: $(RPCD_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/bin/rpcc: $(RPCC_OBJS) $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)


# --- the two commands of README.md --------------------------------------------------
demo: all
	@./scripts/demo.sh $(B)/bin

test: all test-progs
	@B=$(B) ./tests/run.sh

# The same with a busy loop per core running alongside (started and stopped
# by scripts/cpu_hog.sh, by PID): the suite must pass on a loaded machine.
test-loaded: all test-progs
	@B=$(B) ./scripts/cpu_hog.sh ./tests/run.sh

# The suite again against an ASan+UBSan build in build-asan/; any sanitizer
# report from any process fails it.
# One file at a time unless TEST_JOBS says otherwise, as before make test ran
# files in parallel: sanitizers and valgrind multiply every cost.
test-asan:
	$(MAKE) B=build-asan SAN=1 all test-progs
	@TEST_JOBS=$${TEST_JOBS:-1} ./tests/asan.sh build-asan

# The integration tests that suit valgrind, with rpcd and rpcc under it.
test-valgrind: all test-progs
	@TEST_JOBS=$${TEST_JOBS:-1} ./tests/valgrind.sh $(B)

check-asan: test-asan

clean:
	rm -rf build build-asan

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# --- install (issue 5 fills this in) --------------------------------------------------
-include install.mk
