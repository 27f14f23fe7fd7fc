#include <sqlite3.h>
/* SQLITE_TRANSIENT is a cast macro that Swift cannot import. */
static inline sqlite3_destructor_type csqlite3_transient(void) { return SQLITE_TRANSIENT; }
/* sqlite3_config is variadic (not callable from Swift). Without memory statistics, SQLite's
   allocations take no global mutex. Only effective before SQLite initializes. */
static inline int csqlite3_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
