// Command portreserve is a multicall binary holding the portreserve daemon
// and its tools, chosen by the name it is called by: portreserve (hold the
// ports in /etc/portreserve until their services start), portrelease (let
// a service's ports go, synchronously) and portreserve-check (validate the
// configuration and show what is held).
package main

import (
	"os"

	"portreserve/applets"
	"portreserve/applets/portrelease"
	"portreserve/applets/portreserve"
	"portreserve/applets/portreservecheck"
)

// registry lists the applets; the first is the one the binary is installed
// under.
var registry = &applets.Multicall{Applets: []applets.Applet{
	portreserve.Applet,
	portrelease.Applet,
	portreservecheck.Applet,
}}

func main() {
	os.Exit(registry.Main(os.Args, applets.OSEnv()))
}
