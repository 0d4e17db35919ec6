/*
 * Compiling the table's patterns into a Hyperscan database once for every
 * router. A table whose patterns the newest database lacks starts a compile
 * when that pays (see "When to compile"); a table that changes while one
 * runs or waits is compiled after it, only the latest. The answer to
 * routers is encoded once per database and sent as it is to each that asks.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <limits.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbcompile.h"
#include "endpoint.h"
#include "hsdb.h"
#include "hsdbmsg.h"
#include "hsjob.h"
#include "log.h"
#include "proto.h"
#include "reports.h"
#include "strmap.h"
#include "util.h"

static struct ev_loop	*dloop;
static nng_socket	 rep_sock;
static ev_io		 rep_w;
static struct hsjob	*job;
static int		 failed;	/* the last compile failed */
static uint64_t		 job_hash;	/* patterns of the running compile */
/*
 * The patterns of the latest table, when they wait for a compile: one
 * block of text (a copy per table change, so one allocation, not 10,000).
 */
static char		**next_pat;
static char		*next_text;
static size_t		 next_n;
static uint64_t		 next_hash;
/* The newest database, as its PROTO_HSDB answer. */
static uint64_t		 db_id, db_hash;
static uint8_t		*db_msg;
static size_t		 db_len;
/* Its patterns (keys point into db_msg), to tell a table it covers. */
static struct hsdb_msg	 db_view;
static struct strmap	 db_pats;
static struct dbcompile_stats stats;
static char		 cache_path[PATH_MAX];

/*
 * When to compile. A compile of 10,000 patterns takes about a second of a
 * core. Until a database holds a new pattern, routers match it one by one
 * with PCRE2, about PCRE2_COST each time a query tries it (one that comes
 * after the route a query matches is not tried; routers count the tries
 * in their reports). So the latest table's patterns that the newest
 * database lacks (pend of them) wait until the routers' tries have cost
 * as much CPU as a compile does (the last one's): the rent-or-buy rule,
 * which never spends more than twice what the best choice made knowing
 * the future would. A routing change that keeps its regexps (backends
 * come and go) needs no compile at all. No database yet, more than
 * PEND_MAX patterns pending, a database grown past twice the table, or a
 * failed compile: at once. And compiles take at most a sixth of a core:
 * the next waits COMPILE_DUTY times the CPU time the last took. Meanwhile
 * routers are told "compiling, ask again soon", or "deferred, ask again
 * in a second" while the rule says wait.
 */
#define COMPILE_DUTY	5.0
#define PCRE2_COST	25e-9	/* CPU s per try (24-32 ns measured) */
#define PEND_MAX	32
#define DEBT_CHECK	1.0	/* s between looks at the routers' cost */
#define COST_GUESS	1e-4	/* CPU s per pattern before a compile is timed */
static ev_timer		 cool_w;
static double		 cool_until;	/* ev_now before which none starts */
static double		 last_cpu = -1.;	/* CPU s of the last compile */
static size_t		 pend;		/* latest table's patterns db lacks */
static int		 bloated;	/* db holds more than twice the table */
static double		 debt;		/* routers' estimated CPU s on them */
static uint64_t		 debt_q;	/* reports_pending_tried() then */

static void	decide(void);
static int	lacking(const char *const *, size_t);

static uint64_t
patterns_hash(const char *const *pats, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *s = pats[i];

		do
			h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
		while (*s++ != '\0');
	}
	return h ^ n;
}

static void
next_free(void)
{
	free(next_pat);
	free(next_text);
	next_pat = NULL;
	next_text = NULL;
	next_n = 0;
}

static void
next_set(const char *const *pats, size_t n, uint64_t hash)
{
	size_t i, len = 0;
	char *p;

	next_free();
	for (i = 0; i < n; i++)
		len += strlen(pats[i]) + 1;
	next_pat = xcalloc(n + 1, sizeof(*next_pat));
	p = next_text = xmalloc(len + 1);
	for (i = 0; i < n; i++) {
		size_t l = strlen(pats[i]) + 1;

		next_pat[i] = memcpy(p, pats[i], l);
		p += l;
	}
	next_n = n;
	next_hash = hash;
}

static void
start(const char *const *pats, size_t n, uint64_t hash)
{
	if (hsjob_start(job, pats, n) != 0) {
		failed = 1;
		return;
	}
	job_hash = hash;
	log_debug("%s: compiling %zu patterns", __func__, n);
}

/* Make the encoded answer msg (malloc'd, taken) the newest database. */
static int
install(uint8_t *msg, size_t len)
{
	struct hsdb_msg m;
	const char *why;
	uint32_t k;

	if (hsdb_decode(msg, len, &m, &why) != 0 || m.status != HSDB_DB) {
		hsdb_msg_free(&m);
		free(msg);
		return -1;
	}
	hsdb_msg_free(&db_view);
	strmap_clear(&db_pats);
	free(db_msg);
	db_msg = msg;
	db_len = len;
	db_view = m;
	for (k = 0; k < db_view.npat; k++)
		strmap_put(&db_pats, db_view.pat[k], strlen(db_view.pat[k]), 1);
	for (k = 0; k < db_view.nbad; k++)
		strmap_put(&db_pats, db_view.bad[k], strlen(db_view.bad[k]), 1);
	db_id = m.id;
	db_hash = 0;	/* the caller knows the table order, if any */
	return 0;
}

/*
 * The newest database is kept in the controller's directory, so that a
 * controller started again (dnsrouter restarted, the controller killed)
 * has one for the routers at once instead of compiling for seconds while
 * they match one pattern at a time. Written aside and renamed.
 */
static void
cache_save(void)
{
	char tmp[PATH_MAX + 8];
	int fd;
	ssize_t n;

	if (cache_path[0] == '\0')
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", cache_path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		log_warn("%s: %s", __func__, tmp);
		return;
	}
	n = write(fd, db_msg, db_len);
	if (close(fd) != 0 || n != (ssize_t)db_len || rename(tmp,
	    cache_path) != 0) {
		log_warn("%s: %s", __func__, cache_path);
		(void)unlink(tmp);
	}
}

/* The last run's database, if it decodes and fits this process. */
static void
cache_load(void)
{
	struct hsdb_msg m;
	struct hsdb *db;
	struct stat st;
	const char *why = "short read";
	uint8_t *buf;
	int fd;

	if ((fd = open(cache_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > (off_t)HSDB_MAX_LEN) {
		close(fd);
		return;
	}
	buf = xmalloc((size_t)st.st_size);
	if (read(fd, buf, (size_t)st.st_size) != st.st_size ||
	    hsdb_decode(buf, (size_t)st.st_size, &m, &why) != 0) {
		log_warnx("%s: %s dropped: %s", __func__, cache_path, why);
		close(fd);
		free(buf);
		return;
	}
	close(fd);
	/* Hyperscan upgraded, another CPU: routers would refuse it too. */
	db = m.status == HSDB_DB ? hsdb_deserialize(m.blob, m.bloblen, m.pat,
	    m.npat, m.bad, m.nbad, &why) : NULL;
	hsdb_msg_free(&m);
	if (db == NULL) {
		log_info("%s: %s does not fit: %s", __func__, cache_path, why);
		free(buf);
		return;
	}
	hsdb_unref(db);
	if (install(buf, (size_t)st.st_size) == 0) {
		stats.bytes = db_view.bloblen;
		stats.patterns = (size_t)db_view.npat + db_view.nbad;
		log_info("Hyperscan database of %zu patterns from the last run",
		    stats.patterns);
	}
}

static void
done(struct hsdb *db, double seconds, void *arg)
{
	const char **pat, **bad;
	char *blob = NULL;
	uint8_t *msg;
	size_t i, np, nb, bloblen, len;

	(void)arg;
	if (db == NULL) {
		log_warnx("%s: Hyperscan compile failed: routers compile for "
		    "themselves", __func__);
		stats.failures++;
		failed = 1;
		goto next;
	}
	np = hsdb_count(db);
	nb = hsdb_nbad(db);
	pat = xcalloc(np + 1, sizeof(*pat));
	bad = xcalloc(nb + 1, sizeof(*bad));
	for (i = 0; i < np; i++)
		pat[i] = hsdb_pattern(db, i);
	for (i = 0; i < nb; i++)
		bad[i] = hsdb_bad(db, i);
	if (hsdb_serialize(db, &blob, &bloblen) != 0 ||
	    hsdb_encode((uint64_t)rnd32() << 32 | rnd32() | 1, HSDB_DB, pat,
	    (uint32_t)np, bad, (uint32_t)nb, blob, bloblen, &msg, &len) != 0) {
		log_warnx("%s: database of %zu patterns cannot be sent: routers "
		    "compile for themselves", __func__, np + nb);
		stats.failures++;
		failed = 1;
	} else {
		if (install(msg, len) != 0)
			fatalx("%s: own database message does not decode", __func__);
		db_hash = job_hash;
		cache_save();
		failed = 0;
		stats.compiles++;
		stats.seconds = seconds;
		stats.bytes = bloblen;
		stats.patterns = np + nb;
		log_info("Hyperscan database of %zu patterns compiled in %.3fs "
		    "(%zu bytes, %zu patterns left to PCRE2)", np + nb, seconds,
		    bloblen, nb);
	}
	free(blob);	/* hs_serialize_database allocates with malloc */
	free(pat);
	free(bad);
	hsdb_unref(db);
next:
	cool_until = ev_now(dloop) + (failed ? 0. : COMPILE_DUTY *
	    hsjob_cpu(job));
	if (!failed) {
		/* A new database: what routers paid for the old one is paid. */
		last_cpu = hsjob_cpu(job);
		debt = 0.;
		debt_q = reports_pending_tried();
		pend = 0;
		bloated = 0;
		if (next_pat != NULL && !lacking((const char *const *)next_pat,
		    next_n))
			next_free();
	}
	decide();
}

/* What the pending patterns cost the routers, to their last reports. */
static void
debt_update(void)
{
	uint64_t q = reports_pending_tried();

	debt += PCRE2_COST * (double)(q - debt_q);
	debt_q = q;
}

/* Whether the waiting table is to be compiled once the cool-down allows. */
static int
due(void)
{
	double cost = last_cpu >= 0. ? last_cpu : COST_GUESS *
	    (double)(db_view.npat + db_view.nbad);

	return db_msg == NULL || failed || pend > PEND_MAX || bloated ||
	    debt >= cost;
}

/*
 * Count the patterns of a table that the newest database lacks (pend), and
 * whether it outgrew the table (bloated): nonzero if it is to be compiled.
 * A database holding every pattern serves routers as well as a new one
 * (those it holds beyond the table match nothing that counts), so removing
 * routes costs no compile until it holds more than twice the table.
 */
static int
lacking(const char *const *pats, size_t n)
{
	size_t i, v;

	if (db_msg == NULL) {
		pend = n;
		bloated = 0;
		return 1;
	}
	pend = 0;
	for (i = 0; i < n; i++)
		if (!strmap_get(&db_pats, pats[i], strlen(pats[i]), &v))
			pend++;
	bloated = (size_t)db_view.npat + db_view.nbad > 2 * n + 64;
	return pend > 0 || bloated;
}

/* The waiting table: compile it now, later, or when it pays. */
static void
decide(void)
{
	double left;

	ev_timer_stop(dloop, &cool_w);
	if (next_pat == NULL || hsjob_busy(job))
		return;		/* done() decides again */
	debt_update();
	left = cool_until - ev_now(dloop);
	if (left <= 0. && due()) {
		log_debug("%s: %zu patterns, %zu not in the newest database "
		    "(routers' estimated cost %.3fs)", __func__, next_n, pend,
		    debt);
		start((const char *const *)next_pat, next_n, next_hash);
		next_free();
		return;
	}
	ev_timer_set(&cool_w, left > 0. ? left : DEBT_CHECK, 0.);
	ev_timer_start(dloop, &cool_w);
}

static void
cool_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l; (void)w; (void)revents;
	decide();
}

void
dbcompile_table(const struct rt_table *t)
{
	const char **pats;
	uint64_t hash;
	size_t i;
	int waits = 0;

	if (job == NULL || !hsdb_available())
		return;
	pats = xcalloc(t->nroutes + 1, sizeof(*pats));
	for (i = 0; i < t->nroutes; i++)
		pats[i] = t->routes[i].pattern;
	hash = patterns_hash(pats, t->nroutes);
	debt_update();		/* at the table before's count */
	if (db_msg != NULL && hash == db_hash)
		pend = bloated = 0;	/* the newest database's own patterns */
	else if (lacking(pats, t->nroutes) &&
	    !(hsjob_busy(job) && hash == job_hash))
		waits = 1;
	if (waits)
		next_set(pats, t->nroutes, hash);
	else {
		/* Nothing newer waits: an older table's turn is void. */
		if (pend == 0)
			debt = 0.;	/* nothing left to pay for */
		if (next_pat != NULL)
			log_debug("%s: the newest database (or the one "
			    "compiling) holds all %u patterns", __func__,
			    t->nroutes);
		next_free();
	}
	decide();
	free(pats);
}

static void
answer(enum hsdb_status status)
{
	uint8_t *msg;
	size_t len;
	int rv;

	if (hsdb_encode(db_id, status, NULL, 0, NULL, 0, NULL, 0, &msg,
	    &len) != 0)
		return;
	if ((rv = nng_send(rep_sock, msg, len, NNG_FLAG_NONBLOCK)) != 0)
		log_debug("%s: nng_send: %s", __func__, nng_strerror(rv));
	free(msg);
}

static void
rep_cb(struct ev_loop *l, ev_io *w, int revents)
{
	nng_msg *msg;
	const char *why;
	uint64_t have;
	int rv, ok;

	(void)l; (void)w; (void)revents;
	while ((rv = nng_recvmsg(rep_sock, &msg, NNG_FLAG_NONBLOCK)) == 0) {
		ok = hsdb_decode_req(nng_msg_body(msg), nng_msg_len(msg), &have,
		    &why) == 0;
		nng_msg_free(msg);
		if (!ok) {
			log_warnx("%s: bad request from a router dropped: %s",
			    __func__, why);
			continue;
		}
		if (db_msg != NULL && have != db_id) {
			if ((rv = nng_send(rep_sock, db_msg, db_len,
			    NNG_FLAG_NONBLOCK)) != 0)
				log_warnx("%s: nng_send: %s", __func__,
				    nng_strerror(rv));
		} else if (job != NULL && hsjob_busy(job))
			answer(HSDB_COMPILING);
		else if (job != NULL && next_pat != NULL) {
			debt_update();	/* after the cool-down, or when it pays */
			answer(due() ? HSDB_COMPILING : HSDB_DEFERRED);
		} else if (db_msg != NULL)
			answer(HSDB_SAME);
		else if (job == NULL || failed)
			answer(HSDB_NONE);
		else
			answer(HSDB_COMPILING);	/* no table yet */
	}
}

void
dbcompile_init(struct ev_loop *loop, const char *rundir)
{
	int fd, rv;

	dloop = loop;
	if ((rv = nng_rep0_open(&rep_sock)) != 0)
		fatalx("%s: rep socket: %s", __func__, nng_strerror(rv));
	fd = endpoint_listen(rep_sock, rundir, PROTO_EP_HSDB, 1,
	    ENDPOINT_REQ_MAXSZ);
	ev_io_init(&rep_w, rep_cb, fd, EV_READ);
	ev_io_start(loop, &rep_w);
	strmap_init(&db_pats, 0);
	ev_init(&cool_w, cool_cb);
	if (hsdb_available()) {
		job = hsjob_new(loop, done, NULL);
		snprintf(cache_path, sizeof(cache_path), "%s/%s", rundir,
		    DBCOMPILE_CACHE);
		cache_load();
	}
	else
		log_info("this CPU does not run Hyperscan: routers match route "
		    "regexps one by one");
}

void
dbcompile_stats(struct dbcompile_stats *st)
{
	*st = stats;
	st->pending = pend;
}

void
dbcompile_shutdown(void)
{
	ev_io_stop(dloop, &rep_w);
	ev_timer_stop(dloop, &cool_w);
	nng_close(rep_sock);
	hsjob_free(job);
	job = NULL;
	next_free();
	hsdb_msg_free(&db_view);
	strmap_free(&db_pats);
	free(db_msg);
	db_msg = NULL;
}
