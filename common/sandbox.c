/*
 * The children's system call allow-lists. Each list is what the process
 * calls once it serves (its set-up, before sandbox_enter, is free): found
 * by reading the code and confirmed by running the whole test suite, the
 * plain and the ASan build, with "seccomp log" and collecting what the
 * kernel logged (a build with -DSECCOMP_COLLECT makes "on" behave as
 * "log", so the test suite can be run that way). Threads started before
 * (nng's, the compiler's) get the filter too (TSYNC); threads started
 * after inherit it.
 */
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"

/* Both processes: memory, threads, time, signals, descriptors, exit. */
static const char *const common_calls[] = {
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"futex", "clone", "clone3", "set_robust_list", "rseq", "sched_yield",
	"sched_getaffinity", "gettid", "getpid", "getppid", "tgkill", "exit",
	"setpriority",		/* hsjob: the compiling thread at nice 10 */
	"alarm",		/* child_start: the deadline of the way out */
	"exit_group", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
	"sigaltstack", "restart_syscall", "nanosleep", "clock_nanosleep",
	"clock_gettime", "gettimeofday", "getrandom", "prctl",
	"epoll_wait", "epoll_pwait", "epoll_ctl", "epoll_create1", "poll",
	"ppoll", "select", "pselect6", "eventfd2", "pipe2",
	"read", "write", "readv", "writev", "pread64", "close", "fcntl",
	"ioctl", "dup", "dup3", "lseek", "fstat", "newfstatat", "statx",
	"openat", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"socket", "bind", "connect", "shutdown", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg", "accept4", "socketpair",
	"getuid", "geteuid", "getgid", "getegid", "uname", "getrusage",
	"sysinfo", "prlimit64", "getrlimit",
};

/* The router's own: io_uring for its batches. */
static const char *const router_calls[] = {
	"io_uring_enter", "io_uring_register", "io_uring_setup",
};

/*
 * The controller's own: libcurl (name resolution, TLS), libmicrohttpd,
 * the routes file and the TLS files re-read on SIGHUP.
 */
static const char *const controller_calls[] = {
	"listen", "accept", "stat", "lstat", "access", "faccessat",
	"faccessat2", "readlink", "getdents64", "unlink", "rename", "fsync",
	"fdatasync", "ftruncate", "sendfile", "timerfd_create",
	"timerfd_settime", "umask", "getcwd",
	"chmod", "fchmodat",	/* nng: endpoint_check_listeners listens anew */
};

/*
 * A sanitizer build's runtime: LeakSanitizer stops the world at exit with
 * a tracer thread (ptrace, wait4) reading /proc/self/task.
 */
#if defined(__SANITIZE_ADDRESS__)
static const char *const sanitizer_calls[] = {
	"open", "getdents", "getdents64", "ptrace", "wait4", "readlink",
	"readlinkat", "kill", "sched_setaffinity",
};
#endif

static void
add(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t i;
	int nr, rv;

	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(names[i])) == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		if ((rv = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0)
			fatalx("seccomp: allow %s: %s", names[i], strerror(-rv));
	}
}

void
sandbox_enter(enum sandbox_who who, int mode)
{
	scmp_filter_ctx ctx;
	int rv;

#ifdef SECCOMP_COLLECT
	if (mode == CONFIG_SECCOMP_ON)
		mode = CONFIG_SECCOMP_LOG;
#endif
	if (mode == CONFIG_SECCOMP_OFF) {
		log_info("seccomp off: system calls are not filtered");
		return;
	}
	ctx = seccomp_init(mode == CONFIG_SECCOMP_LOG ? SCMP_ACT_LOG :
	    SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		fatalx("seccomp: cannot initialise a filter");
	if ((rv = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0)
		fatalx("seccomp: thread sync: %s", strerror(-rv));
	add(ctx, common_calls, sizeof(common_calls) / sizeof(common_calls[0]));
	if (who == SANDBOX_ROUTER)
		add(ctx, router_calls,
		    sizeof(router_calls) / sizeof(router_calls[0]));
	else
		add(ctx, controller_calls,
		    sizeof(controller_calls) / sizeof(controller_calls[0]));
#if defined(__SANITIZE_ADDRESS__)
	add(ctx, sanitizer_calls,
	    sizeof(sanitizer_calls) / sizeof(sanitizer_calls[0]));
#endif
	if ((rv = seccomp_load(ctx)) != 0)
		fatalx("seccomp: load: %s (set 'seccomp off' where the kernel "
		    "or a container forbids filters)", strerror(-rv));
	seccomp_release(ctx);
	log_debug("seccomp %s: %s allow-list loaded",
	    mode == CONFIG_SECCOMP_LOG ? "log" : "on",
	    who == SANDBOX_ROUTER ? "router" : "controller");
}
