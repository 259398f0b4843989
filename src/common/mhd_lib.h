/* libmicrohttpd, loaded when the first exporter starts (dlopen) instead of
 * at every process start. Debian's libmicrohttpd pulls in GnuTLS and its
 * eight dependencies (p11-kit, nettle, gmp...): mapped and initialised by
 * their constructors they added about 2.3 MB to the RSS of every ipopd and
 * ipop-turnserver, the ones without metrics_address too
 * (docs/benchmarks.md, "Where an ipopd's RSS goes"). The types and
 * constants still come from <microhttpd.h>; the functions through the
 * table below. Thread-safe; the library stays loaded. */
#ifndef IPOP_MHD_LIB_H
#define IPOP_MHD_LIB_H

#include <microhttpd.h>

#define MHD_LIB_SONAME "libmicrohttpd.so.12"

struct mhd_lib {
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_add_connection) add_connection;
	__typeof__(&MHD_create_response_from_buffer) response_from_buffer;
	__typeof__(&MHD_create_response_from_buffer_with_free_callback) response_from_buffer_free;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
};

/* The table, loaded on the first call. NULL (after logging why) when the
 * library or one of its functions is missing. */
const struct mhd_lib *mhd_lib_get(void);

#endif
