/*-------------------------------------------------------------------------
 *
 * endpoints.c
 *		The catalog of Velt endpoints, one row each (paths and fields from
 *		Velt's REST API reference).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "endpoints.h"

const VeltEndpoint velt_endpoints[VELT_EP_COUNT] = {
	[VELT_EP_ADD_USERS] = {
		.sql_name = "velt_add_users",
		.path = "users/add",
		.items_key = "users",
		.items_arg = "users",
		.id_field = "userId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_DOCUMENT,
		VELT_ARG_FOLDER, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_DELETE_USERS] = {
		.sql_name = "velt_delete_users",
		.path = "users/delete",
		.items_key = "userIds",
		.items_arg = "user_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_IDS, VELT_ARG_DOCUMENT,
		VELT_ARG_FOLDER, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_ADD_USER_GROUPS] = {
		.sql_name = "velt_add_user_groups",
		.path = "organizations/usergroups/add",
		.items_key = "organizationUserGroups",
		.items_arg = "groups",
		.id_field = "groupId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_ADD_USERS_TO_GROUP] = {
		.sql_name = "velt_add_users_to_group",
		.path = "organizations/usergroups/users/add",
		.items_key = "userIds",
		.items_arg = "user_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_GROUP, VELT_ARG_ITEM_IDS,
		VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_DELETE_USERS_FROM_GROUP] = {
		.sql_name = "velt_delete_users_from_group",
		.path = "organizations/usergroups/users/delete",
		.items_key = "userIds",
		.items_arg = "user_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_GROUP, VELT_ARG_ITEM_IDS,
		VELT_ARG_DELETE_ALL, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_ADD_ORGANIZATIONS] = {
		.sql_name = "velt_add_organizations",
		.path = "organizations/add",
		.items_key = "organizations",
		.items_arg = "organizations",
		.id_field = "organizationId",
		.args = {VELT_ARG_ITEM_OBJECTS, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_PER_ORGANIZATION,
	},
	[VELT_EP_UPDATE_ORGANIZATIONS] = {
		.sql_name = "velt_update_organizations",
		.path = "organizations/update",
		.items_key = "organizations",
		.items_arg = "organizations",
		.id_field = "organizationId",
		.args = {VELT_ARG_ITEM_OBJECTS, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_PER_ORGANIZATION,
	},
	[VELT_EP_DELETE_ORGANIZATIONS] = {
		.sql_name = "velt_delete_organizations",
		.path = "organizations/delete",
		.items_key = "organizationIds",
		.items_arg = "org_ids",
		.args = {VELT_ARG_ITEM_IDS, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_PER_ORGANIZATION,
	},
	[VELT_EP_UPDATE_ORGANIZATIONS_DISABLED] = {
		.sql_name = "velt_update_organizations_disabled",
		.path = "organizations/access/disablestate/update",
		.items_key = "organizationIds",
		.items_arg = "org_ids",
		.args = {VELT_ARG_ITEM_IDS, VELT_ARG_DISABLED, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_PER_ORGANIZATION,
	},
	[VELT_EP_GET_ORGANIZATIONS] = {
		.sql_name = "velt_get_organizations",
		.path = "organizations/get",
		.items_arg = "org_ids",
		.args = {VELT_ARG_FILTER_IDS, VELT_ARG_MAX_ITEMS, VELT_ARG_OPTIONS},
		.filter_key = "organizationIds",
		.max_filter_ids = 30,
		.page_token_key = "nextPageToken",
		.columns = {"id", "organizationName", "disabled"},
	},
	[VELT_EP_ADD_DOCUMENTS] = {
		.sql_name = "velt_add_documents",
		.path = "organizations/documents/add",
		.items_key = "documents",
		.items_arg = "documents",
		.id_field = "documentId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_FOLDER, VELT_ARG_OPTIONS},
		.items_in_error_details = true,
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_UPDATE_DOCUMENTS] = {
		.sql_name = "velt_update_documents",
		.path = "organizations/documents/update",
		.items_key = "documents",
		.items_arg = "documents",
		.id_field = "documentId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_OPTIONS},
		.items_in_error_details = true,
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_DELETE_DOCUMENTS] = {
		.sql_name = "velt_delete_documents",
		.path = "organizations/documents/delete",
		.items_key = "documentIds",
		.items_arg = "document_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_IDS, VELT_ARG_OPTIONS},
		.items_in_error_details = true,
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_UPDATE_DOCUMENTS_ACCESS] = {
		.sql_name = "velt_update_documents_access",
		.path = "organizations/documents/access/update",
		.items_key = "documentIds",
		.items_arg = "document_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_IDS, VELT_ARG_ACCESS_TYPE, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_UPDATE_DOCUMENTS_DISABLED] = {
		.sql_name = "velt_update_documents_disabled",
		.path = "organizations/documents/access/disablestate/update",
		.items_key = "documentIds",
		.items_arg = "document_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_IDS, VELT_ARG_DISABLED, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_GET_DOCUMENTS] = {
		.sql_name = "velt_get_documents",
		.path = "organizations/documents/get",
		.items_arg = "document_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_FILTER_IDS, VELT_ARG_FOLDER, VELT_ARG_MAX_ITEMS,
		VELT_ARG_OPTIONS},
		.filter_key = "documentIds",
		.max_filter_ids = 30,
		.page_token_key = "pageToken",
		.items_in_error_details = true,
		.columns = {"id", "documentName", "disabled", "accessType"},
	},
	[VELT_EP_UPDATE_USERS] = {
		.sql_name = "velt_update_users",
		.path = "users/update",
		.items_key = "users",
		.items_arg = "users",
		.id_field = "userId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_DOCUMENT, VELT_ARG_FOLDER,
		VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_MERGED,
	},
	[VELT_EP_GET_USERS] = {
		.sql_name = "velt_get_users",
		.path = "users/get",
		.items_arg = "user_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_FILTER_IDS, VELT_ARG_DOCUMENT, VELT_ARG_FOLDER,
		VELT_ARG_MAX_ITEMS, VELT_ARG_OPTIONS},
		.filter_key = "userIds",
		.max_filter_ids = 30,
		.page_token_key = "nextPageToken",
		.columns = {"userId", "name", "email", "accessRole"},
	},
	[VELT_EP_ADD_FOLDERS] = {
		.sql_name = "velt_add_folders",
		.path = "organizations/folders/add",
		.items_key = "folders",
		.items_arg = "folders",
		.id_field = "folderId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_ALONE,
	},
	[VELT_EP_UPDATE_FOLDERS] = {
		.sql_name = "velt_update_folders",
		.path = "organizations/folders/update",
		.items_key = "folders",
		.items_arg = "folders",
		.id_field = "folderId",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_OBJECTS, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_ALONE,
	},
	[VELT_EP_UPDATE_FOLDERS_ACCESS] = {
		.sql_name = "velt_update_folders_access",
		.path = "organizations/folders/access/update",
		.items_key = "folderIds",
		.items_arg = "folder_ids",
		.args = {VELT_ARG_ORG, VELT_ARG_ITEM_IDS, VELT_ARG_ACCESS_TYPE, VELT_ARG_OPTIONS},
		.outbox = VELT_OUTBOX_ALONE,
	},
};

const char *
velt_arg_name(VeltArgRole role)
{
	switch (role)
	{
		case VELT_ARG_ORG:
			return "org";
		case VELT_ARG_DOCUMENT:
			return "document";
		case VELT_ARG_FOLDER:
			return "folder";
		case VELT_ARG_GROUP:
			return "group_id";
		case VELT_ARG_DELETE_ALL:
			return "delete_all";
		case VELT_ARG_DISABLED:
			return "disabled";
		case VELT_ARG_ACCESS_TYPE:
			return "access_type";
		case VELT_ARG_MAX_ITEMS:
			return "max_items";
		case VELT_ARG_OPTIONS:
			return "options";
		case VELT_ARG_FILTER_IDS:
		case VELT_ARG_ITEM_OBJECTS:
		case VELT_ARG_ITEM_IDS:
		case VELT_ARG_END:
			break;
	}
	return NULL;
}

const char *
velt_arg_data_key(VeltArgRole role)
{
	switch (role)
	{
		case VELT_ARG_ORG:
			return "organizationId";
		case VELT_ARG_DOCUMENT:
			return "documentId";
		case VELT_ARG_FOLDER:
			return "folderId";
		case VELT_ARG_GROUP:
			return "organizationUserGroupId";
		case VELT_ARG_DELETE_ALL:
			return "deleteAll";
		case VELT_ARG_DISABLED:
			return "disabled";
		case VELT_ARG_ACCESS_TYPE:
			return "accessType";
		case VELT_ARG_FILTER_IDS:
		case VELT_ARG_MAX_ITEMS:
		case VELT_ARG_ITEM_OBJECTS:
		case VELT_ARG_ITEM_IDS:
		case VELT_ARG_OPTIONS:
		case VELT_ARG_END:
			break;
	}
	return NULL;
}
