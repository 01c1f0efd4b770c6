DROP TABLE oidc_links;
DROP TABLE oidc_requests;
DROP TABLE oidc_identities;
