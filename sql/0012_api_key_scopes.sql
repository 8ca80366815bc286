-- 0012: API key scopes (DESIGN.md, "The security model": `tally apikey create NAME --scope
-- read`). A `read` key may call every GET and nothing else (403 `forbidden`); an `all` key,
-- what every key could before. Existing keys keep doing what they did.
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'read'));
