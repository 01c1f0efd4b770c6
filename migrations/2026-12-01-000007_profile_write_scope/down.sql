UPDATE users SET scopes = btrim(regexp_replace(' ' || scopes || ' ', ' profile:write ', ' '), ' ');
