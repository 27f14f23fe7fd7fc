#include <libpq-fe.h>

/* Notices ("relation already exists, skipping") are not errors: keep them off stderr. */
static void clibpq_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void clibpq_silence_notices(PGconn *conn) { PQsetNoticeProcessor(conn, clibpq_ignore_notice, 0); }
