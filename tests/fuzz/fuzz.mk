# tests/fuzz/fuzz.mk - libFuzzer targets, included by the top-level Makefile.
#   make fuzz                   builds $(B)/fuzz/fuzz_NAME for each target below
#   make fuzz-run SECONDS=N     runs each for N seconds (default 10) on a copy of
#                               tests/fuzz/corpus/NAME; one PASS/FAIL line each
#   make fuzz-seeds             rewrites the generated seeds (handshake, frame)
# The targets compile the sources they test themselves, with clang and
# -fsanitize=fuzzer,address,undefined, into $(B)/fuzz/ (apart from the gcc build).
FUZZ_CC ?= clang
# The default clang of the Debian release, and its libFuzzer runtime.
FUZZ_PKGS ?= clang libclang-rt-dev
SECONDS ?= 10
FUZZ_DIR := $(B)/fuzz
FUZZ_DEPS_OK := $(FUZZ_DIR)/.deps-ok

FUZZ_NAMES ?= record handshake_server handshake_client frame path plugin
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
# Largest input per target: a few records; two handshake records; a frame in a
# record; a path (PATH_MAX); a request of several .proto files.
FUZZ_MAXLEN := record:8192 handshake_server:2100 handshake_client:2100 frame:4096 \
	path:4200 plugin:32768

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	-Iinclude -Ilib -Irpcd -Igen -Itests/fuzz -I$(B)/gen $(PKG_CFLAGS)
FUZZ_GEN_CFLAGS = $(FUZZ_CFLAGS) -Wno-unused-parameter -Wno-missing-prototypes

# Objects: $(FUZZ_DIR)/obj/<source path>.o, generated code under obj/_gen.
fuzz_obj = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(patsubst $(B)/gen/%.c,$(FUZZ_DIR)/obj/_gen/%.o,$(1)))
FUZZ_LIB := $(FUZZ_DIR)/libpbrpc-fuzz.a
FUZZ_LIB_OBJS := $(call fuzz_obj,$(LIB_SRCS) $(PBC_SRCS) $(STUB_SRCS))
FUZZ_KEYS_OBJ := $(call fuzz_obj,tests/fuzz/fuzz_keys.c)
FUZZ_PLUGIN_OBJS := $(call fuzz_obj,$(filter-out gen/protoc-gen-pbrpc.c,$(wildcard gen/*.c)) \
	$(PLUGIN_GEN))

.PHONY: fuzz fuzz-run fuzz-seeds fuzz-deps

fuzz: $(FUZZ_BINS)

# clang and libFuzzer are not part of the ordinary build: installed on demand.
$(FUZZ_DEPS_OK): scripts/deps.sh
	@./scripts/deps.sh $(FUZZ_PKGS)
	@mkdir -p $(@D) && touch $@
fuzz-deps: $(FUZZ_DEPS_OK)

$(FUZZ_DIR)/obj/_gen/%.o: $(B)/gen/%.c | $(GEN_HDRS) $(PLUGIN_GEN:.c=.h) $(FUZZ_DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_GEN_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/obj/%.o: %.c | $(GEN_HDRS) $(PLUGIN_GEN:.c=.h) $(FUZZ_DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# Each target: its harness, then what it tests (the archive gives only what is used).
$(FUZZ_DIR)/fuzz_record: $(call fuzz_obj,tests/fuzz/fuzz_record.c) $(FUZZ_LIB)
$(FUZZ_DIR)/fuzz_handshake_server: $(call fuzz_obj,tests/fuzz/fuzz_handshake_server.c) \
	$(FUZZ_KEYS_OBJ) $(FUZZ_LIB)
$(FUZZ_DIR)/fuzz_handshake_client: $(call fuzz_obj,tests/fuzz/fuzz_handshake_client.c) \
	$(FUZZ_KEYS_OBJ) $(FUZZ_LIB)
$(FUZZ_DIR)/fuzz_frame: $(call fuzz_obj,tests/fuzz/fuzz_frame.c tests/fuzz/fuzz_conn.c \
	rpcd/svc_echo.c rpcd/svc_time.c) $(FUZZ_KEYS_OBJ) $(FUZZ_LIB)
$(FUZZ_DIR)/fuzz_path: $(call fuzz_obj,tests/fuzz/fuzz_path.c rpcd/file_path.c) $(FUZZ_LIB)
$(FUZZ_DIR)/fuzz_plugin: $(call fuzz_obj,tests/fuzz/fuzz_plugin.c) $(FUZZ_PLUGIN_OBJS)

$(FUZZ_BINS):
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)

fuzz-run: $(FUZZ_BINS)
	@./tests/fuzz/run.sh $(FUZZ_DIR) $(SECONDS) $(filter $(addsuffix :%,$(FUZZ_NAMES)),$(FUZZ_MAXLEN))

# The seeds made from real records (fixed secrets of protocol.md 10.2).
$(FUZZ_DIR)/seedgen: $(call fuzz_obj,tests/fuzz/seedgen.c) $(FUZZ_KEYS_OBJ) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(PKG_LIBS)
fuzz-seeds: $(FUZZ_DIR)/seedgen
	$(FUZZ_DIR)/seedgen tests/fuzz/corpus

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
