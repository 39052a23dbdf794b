-- Tenant names are unique regardless of case: two tenants called "Acme"
-- and "ACME" would be told apart by nobody. CreateTenant answers ECONFLICT.
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));
