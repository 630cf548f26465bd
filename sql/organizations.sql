-- Organizations: typed writes with per-ID rows, and velt_get_organizations
-- following page tokens and splitting ID filters into requests of 30.
SELECT standin_reset();

SELECT * FROM velt_add_organizations('[
	{"organizationId": "org-a", "organizationName": "Alpha"},
	{"organizationId": "org-b", "organizationName": "Beta", "plan": "pro"}]');
SELECT path, body FROM standin_requests();

-- an unknown organization is a per-ID failure, not an error
SELECT id, success, message FROM velt_update_organizations('[
	{"organizationId": "org-a", "organizationName": "Alpha Two"},
	{"organizationId": "org-zzz", "organizationName": "Nobody"}]');
SELECT id, success, message FROM velt_update_organizations_disabled(ARRAY['org-b', 'org-zzz'], true);
SELECT body FROM standin_requests() ORDER BY seq DESC LIMIT 1;

SELECT count(*) FILTER (WHERE success) AS added
FROM velt_add_organizations((SELECT jsonb_agg(jsonb_build_object('organizationId', 'org-' || g,
																   'organizationName', 'Org ' || g))
							 FROM generate_series(1, 5) AS g));

-- every organization, typed columns plus the whole object
SELECT id, organization_name, disabled, organization ? 'plan' AS has_plan
FROM velt_get_organizations() ORDER BY id;

-- one organization per page: pages are requested until no token is left
SELECT standin_reset();
SELECT count(*) AS added FROM velt_add_organizations('[
	{"organizationId": "p1", "organizationName": "Org p1"}, {"organizationId": "p2", "organizationName": "Org p2"}, {"organizationId": "p3", "organizationName": "Org p3"}, {"organizationId": "p4", "organizationName": "Org p4"}]');
SELECT array_agg(id ORDER BY id) AS ids FROM velt_get_organizations(options => '{"pageSize": 1}');
SELECT count(*) AS get_requests,
	   count(*) FILTER (WHERE body->'data' ? 'pageToken') AS with_page_token
FROM standin_requests() WHERE path = '/v2/organizations/get';

-- max_items stops early, without asking for more pages
SELECT standin_reset();
SELECT count(*) AS added FROM velt_add_organizations('[{"organizationId": "m1", "organizationName": "Org m1"}, {"organizationId": "m2", "organizationName": "Org m2"}, {"organizationId": "m3", "organizationName": "Org m3"}]');
SELECT id FROM velt_get_organizations(max_items => 2, options => '{"pageSize": 1}');
SELECT count(*) AS get_requests FROM standin_requests() WHERE path = '/v2/organizations/get';

-- an ID filter longer than 30 is split into requests of 30
SELECT count(*) AS found
FROM velt_get_organizations(org_ids => ARRAY(SELECT 'm' || g FROM generate_series(1, 35) AS g));
SELECT jsonb_array_length(body->'data'->'organizationIds') AS ids_in_request
FROM standin_requests() WHERE path = '/v2/organizations/get' AND body->'data' ? 'organizationIds'
ORDER BY 1 DESC;  -- (the slices are in flight together)

-- deleting an organization deletes its users too
SELECT standin_reset();
SELECT id, success FROM velt_add_users('gone', test_users('g1'));
SELECT id, success, message FROM velt_delete_organizations(ARRAY['gone', 'never']);
SELECT standin_state() ? 'gone' AS still_there;

-- v1 has no pages
SET velt.api_version = 'v1';
SELECT count(*) AS added FROM velt_add_organizations('[{"organizationId": "v1org", "organizationName": "Org v1org"}]');
SELECT id FROM velt_get_organizations();
SELECT path, body->'data' ? 'pageToken' AS paged FROM standin_requests() ORDER BY seq DESC LIMIT 1;
RESET velt.api_version;

-- Velt's errors raise as usual
SET velt.max_retries = 0;
SELECT standin_fault('{"status": 400, "message": "Advanced queries are disabled."}');
SELECT * FROM try($$SELECT * FROM velt_get_organizations()$$);
SELECT standin_fault('{"body": "{\"result\": {\"data\": {\"x\": 1}}}"}');
SELECT * FROM try($$SELECT * FROM velt_get_organizations()$$);
SELECT standin_fault('{"body": "{\"result\": {\"data\": [1]}}"}');
SELECT * FROM try($$SELECT * FROM velt_get_organizations()$$);
SELECT standin_fault('{"body": "{\"result\": {\"data\": [], \"nextPageToken\": \"same\"}}", "count": 2}');
SELECT * FROM try($$SELECT * FROM velt_get_organizations()$$);
SELECT standin_fault('{"status": 403, "path_contains": "organizations/delete"}');
SELECT * FROM try($$SELECT * FROM velt_delete_organizations(ARRAY['x'])$$);

-- bad input, nothing sent
SELECT standin_reset();
SELECT * FROM try($$SELECT * FROM velt_add_organizations('[{"organizationName": "x"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_add_organizations('[{"organizationId": "a"}, {"organizationId": "a"}]')$$);
SELECT * FROM try($$SELECT * FROM velt_delete_organizations(ARRAY[NULL]::text[])$$);
SELECT * FROM try($$SELECT * FROM velt_update_organizations_disabled(ARRAY['a'], NULL)$$);
SELECT * FROM try($$SELECT * FROM velt_get_organizations(max_items => 0)$$);
SELECT * FROM try($$SELECT * FROM velt_get_organizations(ARRAY[]::text[])$$);
SELECT * FROM try($$SELECT * FROM velt_get_organizations(options => '{"pageToken": "x"}')$$);
SELECT standin_stats()->'requests' AS requests_sent;
