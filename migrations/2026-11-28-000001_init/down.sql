DROP TABLE notes;
DROP TABLE signing_keys;
DROP TABLE app_secrets;
DROP TABLE login_failures;
DROP TABLE auth_events;
DROP TABLE session_state;
DROP TABLE sessions;
DROP TABLE users;
