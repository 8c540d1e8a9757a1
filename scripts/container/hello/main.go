// Command hello is the example server of the container images (make
// image): it answers HTTP with one line naming itself and the socket it
// serves on. It takes its listening sockets the systemd way, from
// LISTEN_FDS (sd_listen_fds(3), as portrelease --exec passes them), and
// without them binds :PORT ($PORT, default 80) itself, as a server that
// ignores LISTEN_FDS does after a plain portrelease. SIGTERM ends it at
// once, also as PID 1 (where an unhandled SIGTERM is ignored).
//
// It is not part of the portreserve binary.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("hello: ")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		log.Printf("%v: exiting", s)
		os.Exit(0)
	}()
	listeners, how, err := listen()
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range listeners {
		l := l
		log.Printf("serving on %s (%s)", l.Addr(), how)
		go func() {
			log.Fatal(http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello from pid %d on %s (%s)\n", os.Getpid(), l.Addr(), how)
			})))
		}()
	}
	select {}
}

// listen returns the sockets passed in LISTEN_FDS (from descriptor 3), or
// one bound to :$PORT.
func listen() ([]net.Listener, string, error) {
	if pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID")); pid == os.Getpid() {
		n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
		var ls []net.Listener
		for fd := 3; fd < 3+n; fd++ {
			syscall.CloseOnExec(fd)
			l, err := net.FileListener(os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd)))
			if err != nil {
				return nil, "", fmt.Errorf("descriptor %d from LISTEN_FDS: %v", fd, err)
			}
			ls = append(ls, l)
		}
		if len(ls) > 0 {
			return ls, "handed over", nil
		}
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "80"
	}
	l, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return nil, "", err
	}
	return []net.Listener{l}, "bound itself", nil
}
