#!/usr/bin/env python3
"""loa's targeting written for DuckDB (PyPI `duckdb`), the peer of ops/bench/vs-duckdb.sh.

The rules are README's "Audience rules" as loa applies them, from the same CSV files:
- numbers parsed as VietnamNumberingPlan does: separators dropped, +84 / 0084 / 84 / 0 / a lost
  leading zero, pre-2018 11-digit numbers moved to 10 digits, anything else a bad line;
- a row with a bad number, a cell not in the cell list or a time that is not ISO 8601 is skipped;
- per (carrier, number), the latest row with run − seen_within ≤ seen_at ≤ run decides; a tie on
  time goes to the higher cell id (cells are numbered in the order of cells.csv);
- that cell's commune must be one of the audience communes;
- numbers on the do-not-call list are left out, whichever carrier's file they are in;
- the language is the commune's (`by_commune`), else the campaign's default.

Usage: duckdb_targeting.py csv DATA_DIR AUDIENCE_JSON OUT.csv       (from the CSV files)
       duckdb_targeting.py load DATA_DIR DB_FILE                      (CSV files into tables)
       duckdb_targeting.py query DB_FILE AUDIENCE_JSON OUT.csv        (from those tables)
AUDIENCE_JSON: {"run": epoch, "seen_within": seconds, "communes": [...], "by_commune": {...}, "default": "vi"}
Writes carrier,msisdn,language,commune_code,cgi (msisdn as 9 national digits).
"""
import json
import os
import sys

import duckdb

MOBILE = ["32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98",
          "81", "82", "83", "84", "85", "88", "91", "94",
          "70", "76", "77", "78", "79", "89", "90", "93",
          "52", "56", "58", "92", "59", "99", "87", "55"]
MIGRATIONS = {"162": "32", "163": "33", "164": "34", "165": "35", "166": "36", "167": "37", "168": "38", "169": "39",
              "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
              "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
              "186": "56", "188": "58", "199": "59"}

# A raw number column `raw` → `nsn` (9 digits) or NULL, in three steps.
NUMBER_SQL = """
    d0 AS (SELECT *, regexp_replace({raw}, '[ \t.()\\-]', '', 'g') AS d FROM {source}),
    d1 AS (SELECT *, CASE
            WHEN NOT regexp_full_match(d, '\\+?[0-9]+') THEN NULL
            WHEN starts_with(d, '+') THEN CASE WHEN substr(d, 2, 2) = '84' THEN substr(d, 4) END
            WHEN starts_with(d, '00') THEN CASE WHEN substr(d, 3, 2) = '84' THEN substr(d, 5) END
            WHEN substr(d, 1, 4) IN ('1800', '1900') THEN NULL
            WHEN starts_with(d, '0') THEN substr(d, 2)
            WHEN starts_with(d, '84') AND length(d) IN (11, 12) THEN substr(d, 3)
            WHEN length(d) = 9 AND substr(d, 1, 1) IN ('3', '5', '7', '8', '9') THEN d
          END AS n0, starts_with(d, '+') OR starts_with(d, '00') AS intl FROM d0),
    d2 AS (SELECT *, CASE WHEN intl AND starts_with(n0, '0') AND length(n0) IN (10, 11) THEN substr(n0, 2) ELSE n0 END AS n1 FROM d1),
    d3 AS (SELECT d2.*, CASE
            WHEN n1 IS NULL OR starts_with(n1, '0') OR substr(n1, 1, 4) IN ('1800', '1900') THEN NULL
            WHEN length(n1) = 9 AND substr(n1, 1, 2) IN (SELECT prefix FROM mobile) THEN n1
            WHEN length(n1) = 10 AND starts_with(n1, '1') THEN (SELECT new FROM migrations WHERE old = substr(n1, 1, 3)) || substr(n1, 4)
          END AS nsn FROM d2)
"""


def reference(con):
    con.execute("CREATE OR REPLACE TABLE mobile AS SELECT unnest(?) AS prefix", [MOBILE])
    con.execute("CREATE OR REPLACE TABLE migrations AS SELECT unnest(?) AS old, unnest(?) AS new",
                [list(MIGRATIONS.keys()), list(MIGRATIONS.values())])


def load(con, data):
    """Cells, presence and the do-not-call list, numbers parsed, bad lines dropped."""
    reference(con)
    con.execute(f"""CREATE OR REPLACE TABLE cells AS
        SELECT row_number() OVER () AS cell_id, cgi, CAST(commune_code AS INTEGER) AS commune
        FROM read_csv('{data}/cells.csv', header = true, all_varchar = true)""")
    presence = f"""(SELECT regexp_extract(filename, 'presence-([a-z]+)\\.csv$', 1) AS carrier, subscriber, cgi, seen_at
        FROM read_csv('{data}/presence-*.csv', header = true, all_varchar = true, filename = true,
                      ignore_errors = true, null_padding = false,
                      columns = {{'subscriber': 'VARCHAR', 'cgi': 'VARCHAR', 'seen_at': 'VARCHAR'}}))"""
    con.execute(f"""CREATE OR REPLACE TABLE presence AS
        WITH {NUMBER_SQL.format(raw='subscriber', source=presence)}
        SELECT carrier, nsn, cells.cell_id, epoch(try_strptime(seen_at, '%Y-%m-%dT%H:%M:%S%z'))::BIGINT AS seen
        FROM d3 JOIN cells USING (cgi)
        WHERE nsn IS NOT NULL AND try_strptime(seen_at, '%Y-%m-%dT%H:%M:%S%z') IS NOT NULL""")
    dnc = f"(SELECT msisdn FROM read_csv('{data}/do-not-call.csv', header = true, all_varchar = true))"
    con.execute(f"""CREATE OR REPLACE TABLE do_not_call AS
        WITH {NUMBER_SQL.format(raw='msisdn', source=dnc)} SELECT DISTINCT nsn FROM d3 WHERE nsn IS NOT NULL""")


def select(con, audience, out):
    run, within = audience["run"], audience["seen_within"]
    con.execute("CREATE OR REPLACE TEMP TABLE audience_communes AS SELECT unnest(?) AS commune", [audience["communes"]])
    con.execute("CREATE OR REPLACE TEMP TABLE commune_language AS SELECT unnest(?) AS commune, unnest(?) AS language",
                [[int(k) for k in audience["by_commune"]], list(audience["by_commune"].values())])
    con.execute(f"""COPY (
        WITH latest AS (
            SELECT carrier, nsn, max(seen * 16777216 + cell_id) % 16777216 AS cell_id
            FROM presence WHERE seen BETWEEN {run - within} AND {run}
            GROUP BY carrier, nsn)
        SELECT latest.carrier, latest.nsn AS msisdn,
               coalesce(commune_language.language, '{audience["default"]}') AS language,
               cells.commune AS commune_code, cells.cgi
        FROM latest JOIN cells USING (cell_id)
        JOIN audience_communes USING (commune)
        LEFT JOIN commune_language USING (commune)
        WHERE latest.nsn NOT IN (SELECT nsn FROM do_not_call)
    ) TO '{out}' (HEADER, DELIMITER ',')""")


def main():
    mode = sys.argv[1]
    if mode == "csv":
        con = duckdb.connect()
        load(con, sys.argv[2])
        select(con, json.load(open(sys.argv[3])), sys.argv[4])
    elif mode == "load":
        if os.path.exists(sys.argv[3]):
            os.remove(sys.argv[3])
        con = duckdb.connect(sys.argv[3])
        load(con, sys.argv[2])
        con.close()
    elif mode == "query":
        con = duckdb.connect(sys.argv[2], read_only=False)
        select(con, json.load(open(sys.argv[3])), sys.argv[4])
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
