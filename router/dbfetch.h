/* The controller's Hyperscan database, asked for and taken (dbfetch.c). */
#ifndef DNSROUTER_DBFETCH_H
#define DNSROUTER_DBFETCH_H

struct hsdb;
struct router;

/*
 * Dial the controller's database endpoint and ask at once. A
 * database that arrives goes to got_db; compile_here is called when the
 * router must compile for itself.
 */
void dbfetch_init(const struct router *r, void (*got_db)(struct hsdb *db),
    void (*compile_here)(void), void (*no_db_soon)(void));
/* The current table holds patterns its database lacks: ask for a newer one. */
void dbfetch_want(void);
/*
 * Nonzero while a database may be on its way (asked, and the controller
 * did not say it is still compiling); no_db_soon() is called when it says
 * so, or when the router gives up and compiles itself.
 */
int dbfetch_coming(void);
void dbfetch_shutdown(void);

#endif
