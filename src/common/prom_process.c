#include "prom_process.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint64_t n = 0;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n ? n - 1 : 0; /* not the one opendir holds */
}

/* Virtual and resident size in bytes, from /proc/self/statm (pages). */
static void memory(uint64_t *vsz, uint64_t *rss)
{
	unsigned long long v = 0, r = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &v, &r) != 2)
			v = r = 0;
		fclose(f);
	}
	long page = sysconf(_SC_PAGESIZE);
	*vsz = v * (uint64_t)(page > 0 ? page : 4096);
	*rss = r * (uint64_t)(page > 0 ? page : 4096);
}

void prom_process(struct prom_buf *b, int64_t start_unix, bool count_fds)
{
	struct rusage ru;
	struct rlimit rl;
	uint64_t vsz, rss;
	double cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		      ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	prom_family(b, "process_cpu_seconds_total", PROM_COUNTER,
		    "Total user and system CPU time spent in seconds.");
	prom_sample_f(b, "process_cpu_seconds_total", NULL, 0, cpu);
	memory(&vsz, &rss);
	prom_one(b, "process_resident_memory_bytes", PROM_GAUGE, "Resident memory size in bytes.", rss);
	prom_one(b, "process_virtual_memory_bytes", PROM_GAUGE, "Virtual memory size in bytes.", vsz);
	if (count_fds)
		prom_one(b, "process_open_fds", PROM_GAUGE, "Number of open file descriptors.", open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		prom_one(b, "process_max_fds", PROM_GAUGE, "Maximum number of open file descriptors.",
			 rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
	prom_one(b, "process_start_time_seconds", PROM_GAUGE,
		 "Start time of the process since unix epoch in seconds.",
		 start_unix > 0 ? (uint64_t)start_unix : 0);
}
