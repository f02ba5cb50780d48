/* "HOST:PORT" addresses as flags and URLs write them. Pure; any thread. */
#ifndef BASE_HOST_PORT_H
#define BASE_HOST_PORT_H

#include <stdbool.h>
#include <stddef.h>

/* Splits "HOST:PORT" (or ":PORT", "[v6]:PORT") into host (without brackets) and port.
 * Returns false on bad syntax. `host` gets "" when only a port is given. */
bool host_port_split(const char *text, char *host, size_t host_size, int *port);

#endif
