/* What the bkes server and the bkes:// client agree on beyond the messages: the longest bearer
 * token a call may carry, and which hosts are loopback (a token travels over plain bkes:// only to
 * a loopback server, and a plaintext server listens beyond loopback only when told to).
 * Threads: pure functions; any thread may call them. */
#ifndef WIRE_BKES_NET_H
#define WIRE_BKES_NET_H

#include <stdbool.h>

/* The longest token accepted in a call; longer ones are refused without hashing. */
#define BKES_TOKEN_MAX 1024

/* Whether a host name or address ("127.0.0.1", "::1", "::ffff:127.0.0.2", "localhost") is loopback
 * only; "", "0.0.0.0", "::" and every other name are not. */
bool bkes_host_is_loopback(const char *host);

#endif
