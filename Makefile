# portreserve: one static binary, three applets.
#
#   make            build build/portreserve and its applet links
#   make test       gofmt, go vet, staticcheck and every test (CI runs this)
#   make tools      install the pinned staticcheck into build/tools
#   make fuzz       each fuzz target for a fixed number of runs (CI runs this)
#   make bench      footprint and speed against a floor, with budgets
#   make e2e        end-to-end tests against libtirpc and rpcbind (CI runs this
#                   too; needs gcc, libtirpc-dev, rpcbind: see doc/testing.md)
#   make demo       build and run the example in a private network namespace
#   make install    the binary and its links into $(SBINDIR), the man pages,
#                   the init scripts and examples into $(DATADIR)
#   make image      the container images (podman or buildah, local files
#                   only): localhost/portreserve:amd64 FROM scratch and the
#                   example localhost/portreserve-hello:amd64 on top; arm64
#                   too with BUSYBOX_ARM64; their sizes into doc/targets.md
#   make deb        build/deb/portreserve_VERSION_ARCH.deb (DEB_ARCH: amd64,
#                   arm64), with dpkg-deb; make lintian checks it
#   make release    on an annotated tag vX.Y.Z: build/release: static
#                   binaries for every make cross architecture and amd64,
#                   the .deb for amd64 and arm64,
#                   the license notices (scripts/notices.sh), SHA256SUMS;
#                   two runs give identical bytes
#   make install-systemd | install-sysvinit | install-openrc | install-busybox
#                   the service definition for one init system, in place
#                   (busybox: /etc/init.d/S20portreserve, for rcS)
#   make check-build  prove the build static and reproducible, report its size
#   make cross      static binaries for arm64, armv7, 386, riscv64, mipsle,
#                   ppc64le in build/cross/ARCH/, with their sizes
#   make cross-test the unit tests of the arm64 and armv7 builds under
#                   qemu-user, and of the 386 build natively (the 32-bit
#                   ones catch wire numbers that overflow an int)
#   make clean

GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/portreserve
SYSCONFDIR ?= /etc
# systemd looks for units in /usr/local/lib/systemd/system as well.
UNITDIR ?= $(PREFIX)/lib/systemd/system
# The scripts in scripts/ name /usr/sbin/portreserve (and portrelease,
# portreserve-check), where a distribution puts them; their installed
# copies name $(SBINDIR) instead.
SUBST := sed 's|/usr/sbin/port|$(SBINDIR)/port|g'
# What make install copies, with SUBST, into $(DATADIR).
SCRIPT_DIRS := systemd sysvinit openrc runit s6 busybox cups example
BUILD   := build
# The version --version prints: git describe of the tree (a tag, or the
# commit, "-dirty" with uncommitted changes); without git, give it:
# make VERSION=1.2.3. The same tree gives the same string, so builds stay
# reproducible.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
endif
# Static, no cgo; no paths, build id or VCS stamp in the binary, so that
# two builds of one tree give identical bytes.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags='-s -w -buildid= -X portreserve/applets.Version=$(VERSION)'
# The size budget: the stripped binary at most this many times
# testdata/floor (a Go program with x/sys sockets) built the same way for
# the same architecture.
SIZE_RATIO := 1.40
APPLETS := portrelease portreserve-check
# staticcheck, pinned, installed from the Go module proxy into build/tools
# by make tools (make test does it when it is missing).
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(BUILD)/tools/staticcheck

.PHONY: all build test tools e2e fuzz bench demo image deb lintian release selinux install-selinux install install-systemd install-sysvinit install-openrc install-busybox clean check-build cross cross-test

all: build

build:
	$(GOBUILD) -o $(BUILD)/portreserve .
	for a in $(APPLETS); do ln -sf portreserve $(BUILD)/$$a; done

test: $(STATICCHECK)
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration,e2e,bench ./...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags integration,e2e,bench ./...
	$(GO) test $(GOTESTFLAGS) ./...
	$(GO) test -tags integration $(GOTESTFLAGS) ./integration

tools: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(abspath $(BUILD)/tools) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Counts, not durations: with Go 1.26 a -fuzztime duration can end in a
# spurious "context deadline exceeded" (golang/go#75804). Each is a few
# seconds here; FUZZSCALE multiplies them for longer runs.
FUZZSCALE ?= 1
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $$((20000 * $(FUZZSCALE)))x ./services
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $$((5000 * $(FUZZSCALE)))x ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $$((200000 * $(FUZZSCALE)))x ./ipc
	$(GO) test -run '^$$' -fuzz '^FuzzParseReply$$' -fuzztime $$((200000 * $(FUZZSCALE)))x ./ipc
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $$((200000 * $(FUZZSCALE)))x ./internal/inetaddr

# make bench writes its tables into doc/performance.md (BENCH_README; empty
# for nowhere), also when a figure is over its limit.
BENCH_README ?= doc/performance.md
bench:
	$(GO) vet -tags integration,bench ./integration
	@mkdir -p $(BUILD)
	rm -f $(BUILD)/bench.md
	PORTRESERVE_BENCH_REPORT=$(abspath $(BUILD))/bench.md $(GO) test -tags integration,bench -count=1 -timeout 20m -run 'TestBenchReport' -v ./integration; \
	  status=$$?; \
	  if [ -n "$(BENCH_README)" ] && [ -s $(BUILD)/bench.md ]; then sh scripts/readme-block.sh $(BENCH_README) "bench figures" $(BUILD)/bench.md || exit 1; fi; \
	  exit $$status

e2e:
	$(GO) vet -tags integration,e2e ./integration
	$(GO) test -tags integration,e2e -count=1 -timeout 40m -run 'E2E' -v ./integration

demo: build
	sh scripts/demo.sh $(BUILD)

# A static busybox for each image architecture: Debian's busybox-static
# for amd64; for arm64, that package's arm64 build, unpacked (.ci/run
# downloads it). Without BUSYBOX_ARM64 only amd64 is built.
BUSYBOX_AMD64 ?= /bin/busybox
BUSYBOX_ARM64 ?=
# Where make image writes the sizes it measured; empty for nowhere (the
# tests build the images too).
IMAGE_README ?= doc/targets.md
image:
	@for arch in amd64 $(if $(BUSYBOX_ARM64),arm64); do \
	  dir=$(BUILD)/image/$$arch; mkdir -p $$dir; \
	  GOOS=linux GOARCH=$$arch $(GOBUILD) -o $$dir/bin/portreserve . || exit 1; \
	  GOOS=linux GOARCH=$$arch $(GOBUILD) -o $$dir/bin/hello ./scripts/container/hello || exit 1; \
	  busybox=$(BUSYBOX_AMD64); [ $$arch = amd64 ] || busybox=$(BUSYBOX_ARM64); \
	  sh scripts/container/mkimage.sh $$arch $$dir $$busybox || exit 1; \
	done
	@{ echo '| image | size (podman image inspect) |'; echo '|---|---|'; \
	  cat $(BUILD)/image/*/sizes | while read -r image bytes; do echo "| \`$$image\` | $$bytes bytes |"; done; } > $(BUILD)/image/sizes.md
	$(if $(IMAGE_README),sh scripts/readme-block.sh $(IMAGE_README) "image sizes" $(BUILD)/image/sizes.md)

# The Debian version: a tag as it is (without a leading v), anything else
# (a commit) as 0~git.COMMIT, which sorts before every release; "-" is not
# allowed there.
DEB_VERSION ?= $(shell v='$(VERSION)'; v=$${v#v}; expr "$$v" : '[0-9][0-9]*\.' > /dev/null || v=0~git.$$v; echo "$$v" | tr - +)
DEB_ARCH ?= amd64
# Every timestamp in the package: the last commit's time.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
deb: selinux
	GOOS=linux GOARCH=$(DEB_ARCH) $(GOBUILD) -o $(BUILD)/deb/$(DEB_ARCH)/portreserve .
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) sh scripts/debian/mkdeb.sh $(DEB_ARCH) $(DEB_VERSION) $(BUILD)/deb/$(DEB_ARCH)/portreserve $(BUILD)/deb $(BUILD)/selinux/$(SELINUX_MODULE).pp

# The SELinux policy module of scripts/selinux, with selinux-policy-dev's
# build system (SELINUX_DEVEL).
SELINUX_DEVEL ?= /usr/share/selinux/devel/Makefile
SELINUX_MODULE := portreserve_extra
selinux:
	rm -rf $(BUILD)/selinux && mkdir -p $(BUILD)/selinux
	cp scripts/selinux/$(SELINUX_MODULE).te scripts/selinux/$(SELINUX_MODULE).fc scripts/selinux/$(SELINUX_MODULE).if $(BUILD)/selinux/
	$(MAKE) -s -C $(BUILD)/selinux -f $(SELINUX_DEVEL) $(SELINUX_MODULE).pp > /dev/null

RELEASE := $(BUILD)/release
# A release is made from an annotated tag vX.Y.Z on a clean tree, which
# names the files, the packages' version and --version; with no git to
# ask, VERSION= says it.
release:
ifeq ($(origin VERSION),file)
	@tag=$$(git describe --exact-match --match 'v[0-9]*' 2>/dev/null) && \
	  expr "$$tag" : 'v[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*$$' > /dev/null && \
	  [ "$$tag" = '$(VERSION)' ] || { \
	  echo "make release: $(VERSION) is not an annotated release tag (vX.Y.Z) on a clean tree: commit, then tag it (git tag -a v1.2.3 -m 'portreserve 1.2.3'), or say VERSION=" >&2; exit 1; }
endif
	rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	$(MAKE) -s cross CROSS_README=
	GOOS=linux GOARCH=amd64 $(GOBUILD) -o $(RELEASE)/portreserve-$(VERSION)-linux-amd64 .
	for t in $(CROSS); do name=$${t%%:*}; cp $(BUILD)/cross/$$name/portreserve $(RELEASE)/portreserve-$(VERSION)-linux-$$name || exit 1; done
	for arch in amd64 arm64; do $(MAKE) -s deb DEB_ARCH=$$arch > /dev/null && \
	  cp $(BUILD)/deb/portreserve_$(DEB_VERSION)_$$arch.deb $(RELEASE)/ || exit 1; done
	@# The licenses of what the binaries contain, beside them.
	GO=$(GO) sh scripts/notices.sh $(RELEASE) > /dev/null
	cd $(RELEASE) && sha256sum $$(ls | LC_ALL=C sort) > SHA256SUMS && cat SHA256SUMS

lintian: deb
	lintian --fail-on error,warning --display-info $(BUILD)/deb/portreserve_$(DEB_VERSION)_$(DEB_ARCH).deb

install: build
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/portreserve
	install -m 0755 $(BUILD)/portreserve $(DESTDIR)$(SBINDIR)/portreserve
	for a in $(APPLETS); do ln -sf portreserve $(DESTDIR)$(SBINDIR)/$$a; done
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 doc/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 doc/*.5 $(DESTDIR)$(MANDIR)/man5/
	cd scripts && find $(SCRIPT_DIRS) -type f | while read -r f; do \
	  mode=0644; [ -x "$$f" ] && mode=0755; \
	  install -d "$(DESTDIR)$(DATADIR)/$$(dirname "$$f")" && \
	  $(SUBST) "$$f" > "$(DESTDIR)$(DATADIR)/$$f" && chmod $$mode "$(DESTDIR)$(DATADIR)/$$f" || exit 1; \
	done

# The SELinux policy module into $(DATADIR)/../selinux/packages, loaded
# (at priority 200, over the distribution's modules) and the binary
# relabelled when installed in place on a machine with a policy store.
install-selinux: selinux
	install -D -m 0644 $(BUILD)/selinux/$(SELINUX_MODULE).pp $(DESTDIR)$(PREFIX)/share/selinux/packages/$(SELINUX_MODULE).pp
	if [ -z "$(DESTDIR)" ] && command -v semodule > /dev/null; then \
	  semodule -X 200 -i $(PREFIX)/share/selinux/packages/$(SELINUX_MODULE).pp && \
	  { ! command -v restorecon > /dev/null || restorecon -F $(SBINDIR)/portreserve; }; \
	fi

install-systemd:
	install -d $(DESTDIR)$(UNITDIR)
	$(SUBST) scripts/systemd/portreserve.service > $(DESTDIR)$(UNITDIR)/portreserve.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/portreserve.service

install-sysvinit install-openrc:
	install -d $(DESTDIR)$(SYSCONFDIR)/init.d
	$(SUBST) scripts/$(@:install-%=%)/portreserve > $(DESTDIR)$(SYSCONFDIR)/init.d/portreserve
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/portreserve
	@# OpenRC's settings file, unless the user already has one.
	if [ $@ = install-openrc ] && [ ! -e $(DESTDIR)$(SYSCONFDIR)/conf.d/portreserve ]; then \
	  install -D -m 0644 scripts/openrc/portreserve.confd $(DESTDIR)$(SYSCONFDIR)/conf.d/portreserve; fi

# busybox init (Buildroot's rcS): /etc/init.d/S20portreserve, before the
# RPC services (Buildroot's S30rpcbind).
install-busybox:
	install -d $(DESTDIR)$(SYSCONFDIR)/init.d
	$(SUBST) scripts/busybox/S20portreserve > $(DESTDIR)$(SYSCONFDIR)/init.d/S20portreserve
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/S20portreserve

check-build:
	$(GOBUILD) -o $(BUILD)/.repro1 .
	$(GOBUILD) -a -o $(BUILD)/.repro2 .
	cmp $(BUILD)/.repro1 $(BUILD)/.repro2 && echo "reproducible: two builds are identical"
	@if readelf -l $(BUILD)/.repro1 | grep -q INTERP; then echo "not static: has a program interpreter"; exit 1; fi
	@echo "static: no program interpreter"
	@(cd testdata/floor && $(GOBUILD) -o $(abspath $(BUILD))/.floor .)
	@size=$$(wc -c < $(BUILD)/.repro1); floor=$$(wc -c < $(BUILD)/.floor); \
	  rm -f $(BUILD)/.repro1 $(BUILD)/.repro2 $(BUILD)/.floor; \
	  awk -v s=$$size -v f=$$floor -v max=$(SIZE_RATIO) 'BEGIN { printf "size: %d bytes, %.3f x the floor (%d); budget %s x\n", s, s / f, f, max; \
	    if (s / f > max) { print "over the size budget"; exit 1 } }'

# Each target: a directory name and its Go settings. armv7 is GOARM=7;
# mipsle is soft-float, as most MIPS routers have no FPU.
CROSS := arm64:GOARCH=arm64 armv7:GOARCH=arm,GOARM=7 386:GOARCH=386 \
	riscv64:GOARCH=riscv64 mipsle:GOARCH=mipsle,GOMIPS=softfloat ppc64le:GOARCH=ppc64le

# make cross also builds testdata/floor for each target, the same way, and
# writes the sizes and their ratio to it into doc/targets.md (CROSS_README; empty
# for nowhere).
CROSS_README ?= doc/targets.md
cross:
	@rm -f $(BUILD)/cross/sizes; for t in $(CROSS); do \
	  name=$${t%%:*}; settings=$$(echo $${t#*:} | tr , ' '); \
	  env GOOS=linux $$settings $(GOBUILD) -o $(BUILD)/cross/$$name/portreserve . || exit 1; \
	  (cd testdata/floor && env GOOS=linux $$settings $(GOBUILD) -o $(abspath $(BUILD))/cross/$$name/floor .) || exit 1; \
	  size=$$(wc -c < $(BUILD)/cross/$$name/portreserve); floor=$$(wc -c < $(BUILD)/cross/$$name/floor); \
	  line=$$(awk -v n=$$name -v s=$$size -v f=$$floor 'BEGIN { printf "%-8s %9d bytes  %.3f x floor (%d)", n, s, s / f, f }'); \
	  echo "$$line" | tee -a $(BUILD)/cross/sizes; \
	  awk -v s=$$size -v f=$$floor -v max=$(SIZE_RATIO) 'BEGIN { exit !(s / f > max) }' && \
	    { echo "$$name: over the size budget of $(SIZE_RATIO) x the floor" >&2; over=1; }; \
	done; [ -z "$$over" ]
	@{ echo '```'; cat $(BUILD)/cross/sizes; echo '```'; } > $(BUILD)/cross/sizes.md
	$(if $(CROSS_README),sh scripts/readme-block.sh $(CROSS_README) "cross sizes" $(BUILD)/cross/sizes.md)

CROSS_TEST_PKGS := ./services/... ./ipc/... ./applets/... ./internal/...
# 386 runs natively on x86-64 kernels (IA32 emulation): Debian 12's
# qemu-i386-static crashes in the Go runtime (morestack on g0).
cross-test:
	GOARCH=arm64 CGO_ENABLED=0 $(GO) test $(GOTESTFLAGS) -exec qemu-aarch64-static $(CROSS_TEST_PKGS)
	GOARCH=arm GOARM=7 CGO_ENABLED=0 $(GO) test $(GOTESTFLAGS) -exec qemu-arm-static $(CROSS_TEST_PKGS)
	GOARCH=386 CGO_ENABLED=0 $(GO) test $(GOTESTFLAGS) $(CROSS_TEST_PKGS)

clean:
	rm -rf $(BUILD)
