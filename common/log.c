/*
 * Logging to stderr (foreground) or syslog (daemon), as text or (log-format
 * json) as one JSON object a line: time (UTC, RFC 3339 with milliseconds),
 * process, pid, level, message and, for a failed call, error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_foreground = 1;
static int log_verbose;
static const char *log_name = "dnsrouter";
static int log_json;

void
log_init(int foreground, int verbose, const char *ident)
{
	log_foreground = foreground;
	log_verbose = verbose;
	if (ident != NULL)
		log_name = ident;
	if (!foreground)
		openlog(log_name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setjson(int on)
{
	log_json = on;
}

/*
 * s as a JSON string's contents into out (size n, at least 7): quotes,
 * backslashes and control characters escaped, and bytes of 0x80 and up
 * too (\u00XX: a name from a packet need not be UTF-8, the line must be
 * JSON). Cut short, never mid-escape, if out is too small.
 */
static void
json_escape(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0' && o + 7 < n; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
}

static const char *
level_name(int pri)
{
	switch (pri) {
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_DEBUG:
		return "debug";
	default:
		return "info";
	}
}

static void
vlog_json(int pri, const char *msg, int with_errno, int saved)
{
	char emsg[6 * 1024 + 8], eerr[512], when[40], name[128];
	struct timespec ts;
	struct tm tm;

	json_escape(msg, emsg, sizeof(emsg));
	json_escape(with_errno ? strerror(saved) : "", eerr, sizeof(eerr));
	json_escape(log_name, name, sizeof(name));
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_foreground) {
		fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"process\":\"%s\","
		    "\"pid\":%d,\"level\":\"%s\",\"message\":\"%s\"%s%s%s}\n",
		    when, ts.tv_nsec / 1000000, name, (int)getpid(),
		    level_name(pri), emsg, with_errno ? ",\"error\":\"" : "",
		    eerr, with_errno ? "\"" : "");
		fflush(stderr);
	} else
		/* syslog stamps time, name and pid itself. */
		syslog(pri, "{\"level\":\"%s\",\"message\":\"%s\"%s%s%s}",
		    level_name(pri), emsg, with_errno ? ",\"error\":\"" : "",
		    eerr, with_errno ? "\"" : "");
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[1024];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_json)
		vlog_json(pri, msg, with_errno, saved);
	else if (log_foreground) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (with_errno)
			fprintf(stderr, "%s.%03ld %s[%d]: %s: %s\n", when,
			    ts.tv_nsec / 1000000, log_name, (int)getpid(), msg,
			    strerror(saved));
		else
			fprintf(stderr, "%s.%03ld %s[%d]: %s\n", when,
			    ts.tv_nsec / 1000000, log_name, (int)getpid(), msg);
		fflush(stderr);
	} else {
		if (with_errno)
			syslog(pri, "%s: %s", msg, strerror(saved));
		else
			syslog(pri, "%s", msg);
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
