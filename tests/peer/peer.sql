-- What PostGraphile, the bench's peer, needs beyond the mirror's own tables: a company's associated contacts and
-- deals as computed columns (`Company.contacts`, `Company.deals`). They live in their own schema, `peer`, so nothing
-- here touches or shadows the gateway's tables. As the gateway shows them, and with its statement's shape (distinct
-- edges joined to the records): the records a company is associated with, each once (HubSpot may report a pair under
-- several type ids), live rows only (archived records keep their edges in the mirror), ascending by HubSpot id.
-- Plain SQL functions, so Postgres inlines them into PostGraphile's statement.
-- Created by `make bench` (idempotent); deal stage and owner are smart-tag foreign keys (postgraphile.tags.json5).
CREATE SCHEMA IF NOT EXISTS peer;

CREATE OR REPLACE FUNCTION peer.companies_contacts(company public.companies) RETURNS SETOF public.contacts
LANGUAGE sql STABLE AS $$
  SELECT c.* FROM (SELECT DISTINCT a.to_id FROM public.associations a WHERE a.portal_id = company.portal_id
      AND a.from_type = 'company' AND a.from_id = company.hubspot_id AND a.to_type = 'contact') e
    JOIN public.contacts c ON c.portal_id = company.portal_id AND c.hubspot_id = e.to_id
  WHERE c.archived_at IS NULL
  ORDER BY c.hubspot_id
$$;

CREATE OR REPLACE FUNCTION peer.companies_deals(company public.companies) RETURNS SETOF public.deals
LANGUAGE sql STABLE AS $$
  SELECT d.* FROM (SELECT DISTINCT a.to_id FROM public.associations a WHERE a.portal_id = company.portal_id
      AND a.from_type = 'company' AND a.from_id = company.hubspot_id AND a.to_type = 'deal') e
    JOIN public.deals d ON d.portal_id = company.portal_id AND d.hubspot_id = e.to_id
  WHERE d.archived_at IS NULL
  ORDER BY d.hubspot_id
$$;
