-- One login role and one database per service. CONNECT is revoked from PUBLIC, so a
-- service's role can open its own database and no other one.
-- Passwords come from the environment (INTAKE_DB_PASSWORD, LEDGER_DB_PASSWORD,
-- OVERSIGHT_DB_PASSWORD), never from this file. The postgres image runs it once, on an
-- empty data directory; against an existing server run it with psql 15+ as a superuser.

\set ON_ERROR_STOP on

\getenv intake_password INTAKE_DB_PASSWORD
\getenv ledger_password LEDGER_DB_PASSWORD
\getenv oversight_password OVERSIGHT_DB_PASSWORD
\getenv postgres_password POSTGRES_PASSWORD

-- Refuse a missing, empty or placeholder password (deploy/.env.example ships "changethis")
-- before anything is created. In compose this stops the first start; the data directory is
-- then initialised without the roles, so remove the volume (docker compose down -v, on a
-- new installation only) and start again with real passwords. POSTGRES_PASSWORD is checked
-- where it is set (the image's first start), not when an operator runs this file by hand.
\if :{?intake_password} \else \warn 'INTAKE_DB_PASSWORD is not set' \set intake_password '' \endif
\if :{?ledger_password} \else \warn 'LEDGER_DB_PASSWORD is not set' \set ledger_password '' \endif
\if :{?oversight_password} \else \warn 'OVERSIGHT_DB_PASSWORD is not set' \set oversight_password '' \endif
\if :{?postgres_password} \else \set postgres_password 'not checked here' \endif
SET leads.intake_password = :'intake_password';
SET leads.ledger_password = :'ledger_password';
SET leads.oversight_password = :'oversight_password';
SET leads.postgres_password = :'postgres_password';
DO $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['intake', 'ledger', 'oversight', 'postgres'] LOOP
    IF lower(btrim(current_setting('leads.' || name || '_password')))
        IN ('', 'changethis', 'changeme', 'change-me', 'password', 'secret', 'dev') THEN
      RAISE EXCEPTION 'refusing to create the databases: % is empty or a placeholder',
        CASE name WHEN 'postgres' THEN 'POSTGRES_PASSWORD' ELSE upper(name) || '_DB_PASSWORD' END;
    END IF;
  END LOOP;
END $$;
RESET leads.intake_password;
RESET leads.ledger_password;
RESET leads.oversight_password;
RESET leads.postgres_password;

CREATE ROLE intake LOGIN PASSWORD :'intake_password';
CREATE ROLE ledger LOGIN PASSWORD :'ledger_password';
CREATE ROLE oversight LOGIN PASSWORD :'oversight_password';

CREATE DATABASE intake OWNER intake;
CREATE DATABASE ledger OWNER ledger;
CREATE DATABASE oversight OWNER oversight;

REVOKE ALL ON DATABASE intake FROM PUBLIC;
REVOKE ALL ON DATABASE ledger FROM PUBLIC;
REVOKE ALL ON DATABASE oversight FROM PUBLIC;
