"""Reads authwarden's history (`reports/data/`) with a real query engine and
prints, as JSON, what tests/tests/history_engines.rs compares with the
report of the same run:

- `mail`: the period's messages by domain and category (aggregate dataset);
- `reports`: the distinct aggregate reports of the period;
- `findings`: the run's findings by domain and severity (findings dataset);
- `schema` (DuckDB only): every dataset's columns and types as the engine
  reads them, Hive partition columns included.

    python3 history_engines.py duckdb|spark DATA_DIR FIRST_DAY LAST_DAY JOB PERIOD

Both engines read the files as they are: Parquet with Hive partitioning
(`domain=<d>/date=<day>/` and `job=<job>/period=<period>/`), nothing
converted first.
"""

import json
import os
import sys


def datasets(data):
    """Every folder of the history that holds Parquet files."""
    out = []
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name)
        if os.path.isdir(path) and any(f.endswith(".parquet") for _, _, fs in os.walk(path) for f in fs):
            out.append(name)
    return out


def duckdb_answers(data, first, last, job, period):
    import duckdb

    con = duckdb.connect()

    def scan(ds):
        return f"read_parquet('{data}/{ds}/**/*.parquet', hive_partitioning = true)"

    schema = {}
    for ds in datasets(data):
        rows = con.execute(f"DESCRIBE SELECT * FROM {scan(ds)}").fetchall()
        schema[ds] = [[r[0], r[1]] for r in rows]
    mail = con.execute(
        f"""SELECT domain, category, CAST(sum(count) AS BIGINT)
            FROM {scan('aggregate')}
            WHERE date BETWEEN DATE '{first}' AND DATE '{last}'
            GROUP BY domain, category ORDER BY domain, category"""
    ).fetchall()
    reports = con.execute(
        f"""SELECT count(*) FROM (SELECT DISTINCT org_name, report_id FROM {scan('aggregate')}
            WHERE date BETWEEN DATE '{first}' AND DATE '{last}')"""
    ).fetchone()[0]
    findings = con.execute(
        f"""SELECT domain, severity, count(*) FROM {scan('findings')}
            WHERE job = '{job}' AND period = '{period}'
            GROUP BY domain, severity ORDER BY domain, severity"""
    ).fetchall()
    return {
        "schema": schema,
        "mail": [[d, c, int(n)] for d, c, n in mail],
        "reports": int(reports),
        "findings": [[d, s, int(n)] for d, s, n in findings],
    }


def spark_answers(data, first, last, job, period):
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("authwarden-history")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        agg = spark.read.option("basePath", f"{data}/aggregate").parquet(f"{data}/aggregate")
        period_rows = agg.where((F.col("date") >= F.lit(first).cast("date")) & (F.col("date") <= F.lit(last).cast("date")))
        mail = (
            period_rows.groupBy("domain", "category")
            .agg(F.sum("count").cast("long").alias("n"))
            .orderBy("domain", "category")
            .collect()
        )
        reports = period_rows.select("org_name", "report_id").distinct().count()
        found = spark.read.option("basePath", f"{data}/findings").parquet(f"{data}/findings")
        findings = (
            found.where((F.col("job") == job) & (F.col("period") == period))
            .groupBy("domain", "severity")
            .count()
            .orderBy("domain", "severity")
            .collect()
        )
    finally:
        spark.stop()
    return {
        "mail": [[r["domain"], r["category"], int(r["n"])] for r in mail],
        "reports": int(reports),
        "findings": [[r["domain"], r["severity"], int(r["count"])] for r in findings],
    }


def main():
    engine, data, first, last, job, period = sys.argv[1:7]
    answers = {"duckdb": duckdb_answers, "spark": spark_answers}[engine](data, first, last, job, period)
    json.dump(answers, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
