/*
 * getserv answers services(5) queries with glibc, so that the Go parser's
 * tests can compare their answers with getservbyname and getservbyport.
 *
 * Each line on stdin is "name NAME PROTO" or "port PORT PROTO"; each answer
 * on stdout is one line: the port (for name) or the official name (for
 * port), or "-" when glibc finds nothing.
 */
#include <netdb.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char kind[16], arg[1024], proto[256];

	while (scanf("%15s %1023s %255s", kind, arg, proto) == 3) {
		struct servent *s;

		if (strcmp(kind, "name") == 0) {
			s = getservbyname(arg, proto);
			if (s)
				printf("%d\n", ntohs(s->s_port));
			else
				printf("-\n");
		} else {
			s = getservbyport(htons(atoi(arg)), proto);
			printf("%s\n", s ? s->s_name : "-");
		}
	}
	return 0;
}
