-- `profile:write` joins the default grant (it is what deleting your own
-- account through the API needs). Users who hold `profile:read` get it too,
-- in canonical order; users with a narrower grant keep theirs.
UPDATE users
SET scopes = replace(scopes, 'profile:read', 'profile:read profile:write')
WHERE ' ' || scopes || ' ' LIKE '% profile:read %'
  AND ' ' || scopes || ' ' NOT LIKE '% profile:write %';
