// Package portreservecheck is the portreserve-check applet: it validates
// the configuration and shows what the daemon holds, as rpcinfo -p does for
// portmap.
package portreservecheck

import (
	"portreserve/applets"
	"portreserve/applets/cmdline"
)

// Usage is the applet's --help text.
const Usage = `usage: portreserve-check [options] [NAME...]

Validate the portreserve configuration and show what is held.
(Not implemented yet: this build only prints its usage.)

  -h, --help             show this help
`

// Applet is the portreserve-check applet.
var Applet = applets.Applet{
	Name:    "portreserve-check",
	Summary: "validate the configuration and show what is held",
	Main:    Main,
}

// Main runs the applet with args (args[0] is the applet name) and returns
// the exit status.
func Main(args []string) int {
	set := cmdline.New("portreserve-check", Usage)
	_, err := set.Parse(args[1:])
	if err != nil {
		return set.Fail(err)
	}
	return set.Fail(&cmdline.UsageError{Msg: "not implemented yet"})
}
