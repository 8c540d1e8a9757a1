// Package integration holds the tests that run the real binary: the
// daemon, portrelease and portreserve-check as processes, in a private
// network and mount namespace, against real peers (libtirpc's
// bindresvport, rpcbind, cupsd, init systems booted under qemu, podman).
// Its tests build with the tag "integration" (and "e2e" or "bench" for the
// longer sets), so that go test ./... runs the unit tests only; README.md
// in this directory says how to run them and what each file proves.
//
// The helper programs the tests start are in testcmd/; what the tests and
// those programs share is in internal/.
package integration
