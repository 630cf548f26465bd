/*-------------------------------------------------------------------------
 *
 * endpoints.h
 *		The catalog of Velt endpoints velt calls.
 *
 * An endpoint is one row: where it lives, which request key carries its
 * array of items, how each item names its ID, and how the SQL arguments
 * map onto the request's "data" object.  The SQL-callable functions and
 * the request builder are generic over these rows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef VELT_ENDPOINTS_H
#define VELT_ENDPOINTS_H

/* What one SQL argument means for the request. */
typedef enum VeltArgRole
{
	VELT_ARG_END = 0,
	VELT_ARG_ORG,				/* data.organizationId, required */
	VELT_ARG_ITEM_OBJECTS,		/* jsonb array of objects, each naming its ID */
	VELT_ARG_ITEM_IDS,			/* text[] of IDs */
	VELT_ARG_DOCUMENT,			/* data.documentId, optional */
	VELT_ARG_FOLDER,			/* data.folderId, optional */
	VELT_ARG_GROUP,				/* data.organizationUserGroupId, required */
	VELT_ARG_DELETE_ALL,		/* data.deleteAll, replaces the ID list */
	VELT_ARG_DISABLED,			/* data.disabled, required boolean */
	VELT_ARG_ACCESS_TYPE,		/* data.accessType, required text */
	VELT_ARG_FILTER_IDS,		/* text[] of IDs a read is limited to, optional */
	VELT_ARG_MAX_ITEMS,			/* most rows a read returns, optional */
	VELT_ARG_OPTIONS			/* jsonb object merged into data */
} VeltArgRole;

/*
 * How an endpoint's writes travel through the outbox, through its enqueue
 * twin (velt_enqueue_<name>: the synchronous function's arguments, one
 * operation written at commit).  The words are those of outbox.h.
 */
typedef enum VeltOutboxMode
{
	VELT_OUTBOX_NONE,			/* no twin: reads */
	VELT_OUTBOX_MERGED,			/* acts on its IDs alone: merged with its
								 * peers, ordered per ID */
	VELT_OUTBOX_ALONE,			/* acts on more than its IDs say (a folder's
								 * place in the tree): sent alone, after
								 * everything of its organization before it and
								 * before everything after it */
	VELT_OUTBOX_PER_ORGANIZATION,	/* its items are organizations: one
									 * operation per organization, each
									 * alone in that organization's order */
	VELT_OUTBOX_REQUEST			/* velt_enqueue_request: any path, sent alone,
								 * Velt's whole result kept as its outcome */
} VeltOutboxMode;

/*
 * velt.outbox.endpoint of a velt_enqueue_request operation: this prefix,
 * then the path as given ("request:users/get", "request:v1/users/get").
 */
#define VELT_REQUEST_ENDPOINT_PREFIX "request:"

#define VELT_MAX_READ_COLUMNS 8

#define VELT_MAX_ARGS 8

typedef struct VeltEndpoint
{
	const char *sql_name;		/* the SQL function, for messages */
	const char *path;			/* path after the version segment */
	const char *items_key;		/* request key of the item array */
	const char *items_arg;		/* SQL argument name of the items */
	const char *id_field;		/* ID field of each object item; NULL for IDs */
	VeltArgRole args[VELT_MAX_ARGS];	/* roles of the SQL arguments, in order */

	/*
	 * v2 documents answer a partly failed batch with HTTP 500 INTERNAL and
	 * every item's result in error.details: read those as per-ID rows.
	 */
	bool		items_in_error_details;

	VeltOutboxMode outbox;		/* its enqueue twin, if any */

	/*
	 * reads only: paging and the row shape (max_filter_ids comes first to
	 * share the bool's word: no padding)
	 */
	int			max_filter_ids; /* Velt's limit per request; longer lists split */
	const char *filter_key;		/* request key of the ID filter */
	const char *page_token_key; /* where result carries the next page token */
	const char *columns[VELT_MAX_READ_COLUMNS]; /* JSON fields of the typed
												 * columns; the last SQL column
												 * is the whole object */
} VeltEndpoint;

typedef enum VeltEndpointId
{
	VELT_EP_ADD_USERS,
	VELT_EP_DELETE_USERS,
	VELT_EP_ADD_USER_GROUPS,
	VELT_EP_ADD_USERS_TO_GROUP,
	VELT_EP_DELETE_USERS_FROM_GROUP,
	VELT_EP_ADD_ORGANIZATIONS,
	VELT_EP_UPDATE_ORGANIZATIONS,
	VELT_EP_DELETE_ORGANIZATIONS,
	VELT_EP_UPDATE_ORGANIZATIONS_DISABLED,
	VELT_EP_GET_ORGANIZATIONS,
	VELT_EP_ADD_DOCUMENTS,
	VELT_EP_UPDATE_DOCUMENTS,
	VELT_EP_DELETE_DOCUMENTS,
	VELT_EP_UPDATE_DOCUMENTS_ACCESS,
	VELT_EP_UPDATE_DOCUMENTS_DISABLED,
	VELT_EP_GET_DOCUMENTS,
	VELT_EP_UPDATE_USERS,
	VELT_EP_GET_USERS,
	VELT_EP_ADD_FOLDERS,
	VELT_EP_UPDATE_FOLDERS,
	VELT_EP_UPDATE_FOLDERS_ACCESS,
	VELT_EP_COUNT
} VeltEndpointId;

extern const VeltEndpoint velt_endpoints[VELT_EP_COUNT];

/* SQL argument name and data key of a role (data key NULL if none). */
extern const char *velt_arg_name(VeltArgRole role);
extern const char *velt_arg_data_key(VeltArgRole role);

#endif							/* VELT_ENDPOINTS_H */
