# install.mk - `make install` and `make uninstall`, included by the Makefile.
#   make install [PREFIX=/usr/local] [DESTDIR=/stage]
# Every directory below can be overridden on the command line (LIBDIR=/usr/lib64 ...).
# rpcd goes to sbin: it is a daemon documented in section 8, like sshd.
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
INSTALL ?= install

# The shared library is installed under its full version, with the SONAME link
# (what the loader opens) and the development link (what -lpbrpc finds).
SHARED_REAL := libpbrpc.so.$(LIBVERSION)
SHARED_SONAME := libpbrpc.so.$(SOVERSION)

# Public headers: <pbrpc.h>, any <pbrpc/*.h> of our own, and the built-in services'
# generated headers (they include each other as "pbrpc/NAME.pb-c.h").
PUBLIC_HDRS := $(wildcard include/pbrpc/*.h)
INSTALL_HDR_NAMES := $(sort $(notdir $(PUBLIC_HDRS) $(GEN_HDRS)))
MAN_PAGES := docs/man/rpcc.1 docs/man/pbrpc.3 docs/man/rpcd.8

# In pbrpc.pc, directories under PREFIX are written relative to ${prefix}, so one
# edit of prefix= (or PKG_CONFIG_SYSROOT_DIR) moves them all.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

$(B)/pbrpc.pc: pbrpc.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' -e 's|@VERSION@|$(LIBVERSION)|' \
		pbrpc.pc.in >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

FORCE:
.PHONY: FORCE

install: all $(B)/pbrpc.pc
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(INCLUDEDIR)/pbrpc \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 $(B)/bin/rpcc $(PLUGIN) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 755 $(B)/bin/rpcd $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SHARED_REAL)
	ln -sf $(SHARED_REAL) $(DESTDIR)$(LIBDIR)/$(SHARED_SONAME)
	ln -sf $(SHARED_SONAME) $(DESTDIR)$(LIBDIR)/libpbrpc.so
	$(INSTALL) -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 644 $(B)/pbrpc.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(INSTALL) -m 644 include/pbrpc.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(PUBLIC_HDRS) $(GEN_HDRS) $(DESTDIR)$(INCLUDEDIR)/pbrpc/
	$(INSTALL) -m 644 docs/man/rpcc.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 docs/man/pbrpc.3 $(DESTDIR)$(MANDIR)/man3/
	$(INSTALL) -m 644 docs/man/rpcd.8 $(DESTDIR)$(MANDIR)/man8/

# Removes exactly what install put there, and include/pbrpc/ if that leaves it empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rpcc $(DESTDIR)$(BINDIR)/protoc-gen-pbrpc \
		$(DESTDIR)$(SBINDIR)/rpcd
	rm -f $(DESTDIR)$(LIBDIR)/$(SHARED_REAL) $(DESTDIR)$(LIBDIR)/$(SHARED_SONAME) \
		$(DESTDIR)$(LIBDIR)/libpbrpc.so $(DESTDIR)$(LIBDIR)/libpbrpc.a \
		$(DESTDIR)$(PKGCONFIGDIR)/pbrpc.pc
	rm -f $(DESTDIR)$(INCLUDEDIR)/pbrpc.h \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/pbrpc/,$(INSTALL_HDR_NAMES))
	rmdir $(DESTDIR)$(INCLUDEDIR)/pbrpc 2>/dev/null || true
	rm -f $(DESTDIR)$(MANDIR)/man1/rpcc.1 $(DESTDIR)$(MANDIR)/man3/pbrpc.3 \
		$(DESTDIR)$(MANDIR)/man8/rpcd.8
