-- One login role and one database per service. CONNECT is revoked from PUBLIC, so a
-- service's role can open its own database and no other one.
-- Passwords come from the environment (INTAKE_DB_PASSWORD, LEDGER_DB_PASSWORD,
-- OVERSIGHT_DB_PASSWORD), never from this file. The postgres image runs it once, on an
-- empty data directory; against an existing server run it with psql 15+ as a superuser.

\set ON_ERROR_STOP on

\getenv intake_password INTAKE_DB_PASSWORD
\getenv ledger_password LEDGER_DB_PASSWORD
\getenv oversight_password OVERSIGHT_DB_PASSWORD

CREATE ROLE intake LOGIN PASSWORD :'intake_password';
CREATE ROLE ledger LOGIN PASSWORD :'ledger_password';
CREATE ROLE oversight LOGIN PASSWORD :'oversight_password';

CREATE DATABASE intake OWNER intake;
CREATE DATABASE ledger OWNER ledger;
CREATE DATABASE oversight OWNER oversight;

REVOKE ALL ON DATABASE intake FROM PUBLIC;
REVOKE ALL ON DATABASE ledger FROM PUBLIC;
REVOKE ALL ON DATABASE oversight FROM PUBLIC;
