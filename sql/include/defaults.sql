-- Names every numbered script shares. Each can be overridden on the psql command line,
-- e.g. psql -v trading_db_name=my_trading -f sql/01_create_databases.sql;
-- `tradedb setup` passes the values of TRADING_DB_NAME, TRADING_DB_USER,
-- ORCHESTRATION_DB_NAME and ORCHESTRATION_DB_USER the same way.
\if :{?trading_db_name}
\else
\set trading_db_name trading_system
\endif
\if :{?trading_db_user}
\else
\set trading_db_user trading_user
\endif
\if :{?orchestration_db_name}
\else
\set orchestration_db_name orchestration
\endif
\if :{?orchestration_db_user}
\else
\set orchestration_db_user orchestration_user
\endif
