-- Nothing to do on PostgreSQL: its tables are heaps already. 0003_alerts_rowid.sql turns
-- SQLite's alerts table from WITHOUT ROWID into a rowid table; this keeps the version numbers
-- of both databases in step.
SELECT 1;
