ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN aal;
