#include "mhd_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "log.h"

static struct mhd_lib g_lib;
static const struct mhd_lib *g_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int sym(void *h, const char *name, void *out, size_t size)
{
	void *p = dlsym(h, name);
	if (!p) {
		log_error("metrics: %s has no %s", MHD_LIB_SONAME, name);
		return -1;
	}
	/* POSIX: a data pointer from dlsym converts to a function pointer. */
	memcpy(out, &p, size);
	return 0;
}

static void load(void)
{
	void *h = dlopen(MHD_LIB_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		log_error("metrics: cannot load %s: %s", MHD_LIB_SONAME, dlerror());
		return;
	}
	struct mhd_lib l;
#define SYM(f, n) sym(h, n, &l.f, sizeof(l.f))
	if (SYM(start_daemon, "MHD_start_daemon") || SYM(stop_daemon, "MHD_stop_daemon") ||
	    SYM(add_connection, "MHD_add_connection") ||
	    SYM(response_from_buffer, "MHD_create_response_from_buffer") ||
	    SYM(response_from_buffer_free, "MHD_create_response_from_buffer_with_free_callback") ||
	    SYM(add_response_header, "MHD_add_response_header") ||
	    SYM(queue_response, "MHD_queue_response") || SYM(destroy_response, "MHD_destroy_response")) {
		dlclose(h);
		return;
	}
#undef SYM
	g_lib = l;
	g_ok = &g_lib;
}

const struct mhd_lib *mhd_lib_get(void)
{
	pthread_once(&g_once, load);
	return g_ok;
}
