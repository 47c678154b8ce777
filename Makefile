# SPDX-License-Identifier: MIT
# connrec build. `make` builds ./connrec; `make test` runs every test CI runs.
# Generated files (vmlinux.h, the BPF object, the skeleton, embedded schema) go to $(OUTPUT).

OUTPUT ?= .output
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
PREFIX ?= /usr/local
DESTDIR ?=
UNITDIR ?= $(PREFIX)/lib/systemd/system
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

WERROR ?= -Werror
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra $(WERROR) -MMD -MP -D_GNU_SOURCE \
	-DCONNREC_VERSION='"$(VERSION)"' -I$(OUTPUT) -Ilib -Istore -Iread -Ischema -Isrc -Ifleet -I.
# Preprocessor flags from the environment (dpkg-buildflags puts _FORTIFY_SOURCE there).
CFLAGS += $(CPPFLAGS)
LDLIBS += -lbpf -lelf -lz -lsqlite3 -lzstd -lcrypto -lldns -lcurl -lpthread

# make SAN=1: AddressSanitizer + UndefinedBehaviorSanitizer build in its own directory.
ifeq ($(SAN),1)
OUTPUT := .output-san
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# lib/ common helpers, store/ the writer and the segment format, read/ the evidence reader,
# fleet/ch_* ClickHouse over HTTP.
LIB_SRCS := $(wildcard lib/*.c store/*.c read/*.c fleet/ch_*.c)
APP_SRCS := $(wildcard src/*.c recorder/*.c query/*.c fleet/ship*.c)
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(LIB_SRCS)) $(OUTPUT)/schema_sql.o
APP_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(APP_SRCS))
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_HDRS := $(wildcard bpf/*.h schema/*.h)
SCHEMA_SQL := $(sort $(wildcard schema/[0-9]*.sql))
SEAL_SQL := schema/seal.sql
MAN_SRCS := $(wildcard man/*.scd)
MAN_PAGES := $(patsubst man/%.scd,$(OUTPUT)/man/%,$(MAN_SRCS))
COMPLETION := $(OUTPUT)/connrec.bash-completion

.PHONY: all clean test test-unit test-e2e deps record install fuzz bench san man deb
all: connrec man

# Man pages from their scdoc sources, and the bash completion the binary prints from its
# option tables (so it always matches the options it parses).
man: $(MAN_PAGES) $(COMPLETION)

$(OUTPUT)/man/%: man/%.scd
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(OUTPUT)/man
	$(Q)scdoc <$< >$@.tmp && mv $@.tmp $@

$(COMPLETION): connrec
	$(call msg,GEN,$@)
	$(Q)$(OUTPUT)/connrec completion bash >$@.tmp && mv $@.tmp $@

$(OUTPUT) $(OUTPUT)/lib $(OUTPUT)/store $(OUTPUT)/read $(OUTPUT)/src $(OUTPUT)/recorder \
	$(OUTPUT)/query $(OUTPUT)/fleet $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(OUTPUT)/connrec.bpf.o: $(BPF_SRCS) $(BPF_HDRS) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-I$(OUTPUT) -Ibpf -Ischema -c bpf/connrec.bpf.c -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp && mv $@.tmp $@

$(OUTPUT)/connrec.skel.h: $(OUTPUT)/connrec.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name connrec_bpf > $@.tmp && mv $@.tmp $@

# The schema files are embedded so the binary needs nothing at run time.
$(OUTPUT)/schema_sql.c: $(SCHEMA_SQL) $(SEAL_SQL) tools/embed.sh | $(OUTPUT)
	$(call msg,EMBED,$@)
	$(Q){ sh tools/embed.sh schema_sql $(SCHEMA_SQL) && sh tools/embed.sh seal_sql $(SEAL_SQL); } > $@.tmp
	$(Q)mv $@.tmp $@

$(OUTPUT)/schema_sql.o: $(OUTPUT)/schema_sql.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The recorder includes the skeleton and must wait for it; query and store code never do.
# Only the recorder (and tests and tools that feed it events) see the BPF headers in bpf/:
# the store takes rows and query reads them, so neither may include the kernel's ABI.
RECORDER_OBJS := $(filter $(OUTPUT)/recorder/%,$(APP_OBJS))
$(RECORDER_OBJS): $(OUTPUT)/connrec.skel.h
$(RECORDER_OBJS): private CFLAGS += -Ibpf

$(OUTPUT)/%.o: %.c | $(OUTPUT)/lib $(OUTPUT)/store $(OUTPUT)/read $(OUTPUT)/src $(OUTPUT)/recorder \
	$(OUTPUT)/query $(OUTPUT)/fleet
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/libconnrec.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

connrec: $(APP_OBJS) $(OUTPUT)/libconnrec.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(APP_OBJS) $(OUTPUT)/libconnrec.a $(LDLIBS) -o $(OUTPUT)/connrec
	$(Q)[ "$(OUTPUT)" = ".output" ] && cp $(OUTPUT)/connrec $@ || true

san:
	$(MAKE) SAN=1 connrec

# Unit-test and tool binaries: tests/unit/NAME.c -> $(OUTPUT)/tests/NAME, linked with the lib.
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(filter-out %.bpf.c,$(wildcard tests/tools/*.c bench/*.c))
TOOL_BINS := $(patsubst %.c,$(OUTPUT)/tools/%,$(notdir $(TOOL_SRCS)))

# The ingest test drives the recorder's ingest code directly.
$(OUTPUT)/tests/test_ingest: tests/unit/test_ingest.c recorder/ingest.c $(OUTPUT)/libconnrec.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf -Irecorder $(LDFLAGS) tests/unit/test_ingest.c recorder/ingest.c \
		$(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

# So does the process-event test, with the recorder's proc_ingest.c.
$(OUTPUT)/tests/test_proc_ingest: tests/unit/test_proc_ingest.c recorder/proc_ingest.c \
		$(OUTPUT)/libconnrec.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf -Irecorder $(LDFLAGS) tests/unit/test_proc_ingest.c \
		recorder/proc_ingest.c $(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

# So does the test of the UDP flow index.
$(OUTPUT)/tests/test_udp_peers: tests/unit/test_udp_peers.c recorder/udp_peers.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf -Irecorder $(LDFLAGS) tests/unit/test_udp_peers.c \
		recorder/udp_peers.c -o $@

# The DNS test drives the recorder's parser, TCP reassembly, owner table and flow events directly.
DNS_TEST_SRCS := recorder/dns_parse.c recorder/dns_tcp.c recorder/dns_owners.c \
	recorder/dns_ingest.c recorder/ingest.c
$(OUTPUT)/tests/test_dns: tests/unit/test_dns.c $(DNS_TEST_SRCS) $(OUTPUT)/libconnrec.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf -Irecorder $(LDFLAGS) tests/unit/test_dns.c $(DNS_TEST_SRCS) \
		$(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libconnrec.a | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf $(LDFLAGS) $< $(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

$(OUTPUT)/tools/%: tests/tools/%.c $(OUTPUT)/libconnrec.a
	$(Q)mkdir -p $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf $(LDFLAGS) $< $(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

# The ingest micro-benchmark drives the recorder's ingest code directly.
$(OUTPUT)/tools/ingest_bench: bench/ingest_bench.c recorder/ingest.c $(OUTPUT)/libconnrec.a
	$(Q)mkdir -p $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf -Irecorder $(LDFLAGS) bench/ingest_bench.c recorder/ingest.c \
		$(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

# The physical lines `make bench` and bench/line.sh compare with (bench/tpcount.c).
$(OUTPUT)/tpcount.bpf.o: bench/tpcount.bpf.c bpf/connrec_event.h schema/schema_values.h \
		$(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-I$(OUTPUT) -Ibpf -Ischema -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp && mv $@.tmp $@

$(OUTPUT)/tpcount.skel.h: $(OUTPUT)/tpcount.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name tpcount_bpf > $@.tmp && mv $@.tmp $@

$(OUTPUT)/tools/tpcount: bench/tpcount.c lib/cgroupfs.c $(OUTPUT)/tpcount.skel.h
	$(Q)mkdir -p $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ilib $(LDFLAGS) $< lib/cgroupfs.c -lbpf -lelf -lz -o $@

$(OUTPUT)/tools/%: bench/%.c
	$(Q)mkdir -p $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibpf $(LDFLAGS) $< -lpthread -o $@

# The floor under the packet hooks that bench/skb_bench.sh compares with (bench/skb_null.c).
$(OUTPUT)/skb_null.bpf.o: bench/skb_null.bpf.c $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
		-I$(OUTPUT) -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp && mv $@.tmp $@

$(OUTPUT)/skb_null.skel.h: $(OUTPUT)/skb_null.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name skb_null_bpf > $@.tmp && mv $@.tmp $@

$(OUTPUT)/tools/skb_null: bench/skb_null.c $(OUTPUT)/skb_null.skel.h $(OUTPUT)/libconnrec.a
	$(Q)mkdir -p $(OUTPUT)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(OUTPUT)/libconnrec.a $(LDLIBS) -o $@

tools: $(TOOL_BINS)
unit-bins: $(UNIT_BINS)

# Installs the build and test dependencies on Debian 12 (needs root).
deps:
	sh tools/install-deps.sh

# Installs what is missing, builds, and starts recording into the default store (root).
record:
	sh tools/install-deps.sh
	$(MAKE) connrec
	./connrec record

# Installs what is missing (and unpacks Debian 12's own kernel into a cache for
# tests/e2e/90_debian_kernel.sh), builds normally and with sanitizers, runs every test against the
# sanitizer build (ASan/UBSan abort on the first error, so a clean run means a clean build).
test:
	sh tools/install-deps.sh
	sh tests/vm/kernel.sh >/dev/null
	$(MAKE) connrec man unit-bins tools
	$(MAKE) SAN=1 connrec man unit-bins tools
	OUTPUT=.output-san CONNREC_BIN=$(CURDIR)/.output-san/connrec sh tests/run.sh

fuzz:
	sh tests/fuzz/run.sh 300

bench: connrec tools
	sh bench/run.sh
	sh bench/hold.sh
	sh bench/exec.sh

install: connrec man
	install -D -m 0755 $(OUTPUT)/connrec $(DESTDIR)$(PREFIX)/sbin/connrec
	for p in $(MAN_PAGES); do \
		n=$$(basename $$p); \
		install -D -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man$${n##*.}/$$n || exit 1; \
	done
	install -D -m 0644 $(COMPLETION) \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/connrec
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/connrec/README.md
	mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/sbin/|$(PREFIX)/sbin/|' examples/connrec.service \
		>$(DESTDIR)$(UNITDIR)/connrec.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/connrec.service
	# Examples, not units: they need a URL first, and a package must not start them.
	mkdir -p $(DESTDIR)$(PREFIX)/share/doc/connrec/examples
	for u in connrec-ship.service connrec-ship.timer; do \
		sed 's|/usr/local/|$(PREFIX)/|g' examples/$$u \
			>$(DESTDIR)$(PREFIX)/share/doc/connrec/examples/$$u || exit 1; \
	done
	install -D -m 0644 docs/fleet.md $(DESTDIR)$(PREFIX)/share/doc/connrec/docs/fleet.md

# A Debian package, built by dpkg-buildpackage in a copy of the tracked files (so the tree
# stays clean), into $(OUTPUT)/deb/connrec_VERSION_ARCH.deb.
DEB_DIR ?= $(OUTPUT)/deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/connrec-$(VERSION)
	git ls-files -z | xargs -0 cp --parents -t $(DEB_DIR)/connrec-$(VERSION)
	cd $(DEB_DIR)/connrec-$(VERSION) && dpkg-buildpackage -b -us -uc
	ls $(DEB_DIR)/*.deb

clean:
	rm -rf .output .output-san connrec

-include $(wildcard $(OUTPUT)/*/*.d $(OUTPUT)/*.d)
