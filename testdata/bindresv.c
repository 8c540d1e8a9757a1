/*
 * bindresv: the adversary portreserve exists to beat. It creates a TCP or
 * UDP socket, calls libtirpc's bindresvport(3) on it, and prints the port
 * it got, one line: "port N" (or "error: ..." and exit status 1).
 *
 *   bindresv tcp|udp              print the port and exit
 *   bindresv tcp|udp wait         print the port, then keep the socket
 *                                 until stdin closes or a signal
 *   bindresv tcp|udp PROG VERS    also register PROG/VERS with rpcbind
 *                                 on that port (pmap_set), then wait;
 *                                 unregister on SIGTERM
 *
 * Built by the end-to-end tests with: gcc -I/usr/include/tirpc ... -ltirpc
 */
#include <rpc/rpc.h>
#include <rpc/pmap_clnt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

static unsigned long prog, vers;
static int proto;

static void unregister(int sig)
{
	(void)sig;
	if (prog)
		pmap_unset(prog, vers);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	char buf[16];
	int fd, type;

	if (argc < 2 || (strcmp(argv[1], "tcp") && strcmp(argv[1], "udp"))) {
		fprintf(stderr, "usage: bindresv tcp|udp [wait | PROG VERS]\n");
		return 2;
	}
	type = strcmp(argv[1], "tcp") == 0 ? SOCK_STREAM : SOCK_DGRAM;
	proto = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
	fd = socket(AF_INET, type, 0);
	if (fd < 0) {
		printf("error: socket: %s\n", strerror(errno));
		return 1;
	}
	if (bindresvport(fd, NULL) < 0) {
		printf("error: bindresvport: %s\n", strerror(errno));
		return 1;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		printf("error: getsockname: %s\n", strerror(errno));
		return 1;
	}
	if (type == SOCK_STREAM)
		listen(fd, 8);
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	if (argc == 4) {
		prog = strtoul(argv[2], NULL, 0);
		vers = strtoul(argv[3], NULL, 0);
		signal(SIGTERM, unregister);
		signal(SIGINT, unregister);
		if (!pmap_set(prog, vers, proto, ntohs(sin.sin_port))) {
			printf("error: pmap_set failed\n");
			return 1;
		}
		printf("registered\n");
		fflush(stdout);
	} else if (argc != 3) {
		return 0;
	}
	/* Hold the port until stdin closes (the test ends) or a signal. */
	while (read(0, buf, sizeof buf) > 0)
		;
	unregister(0);
	return 0;
}
