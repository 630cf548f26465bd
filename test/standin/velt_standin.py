#!/usr/bin/python3
"""Velt stand-in server: a local, stateful imitation of the Velt REST API for tests and the demo.

It serves the organization, folder, document, user, user-group, access-control (auth) and GDPR
endpoints under /v1/ and /v2/ (where Velt has them), checks the two auth headers, validates
request bodies against the request schemas of Velt's published OpenAPI spec (vendored in
openapi_requests.json, made by extract_openapi.py), keeps its state in memory, and offers a
control API under /_standin/ (reset, fault injection, settings, request log, state, stats) that
needs no auth.  See README.md next to this file for the behaviour it promises and the
assumptions it makes where the Velt docs are silent.

Runs on Debian's /usr/bin/python3 with the standard library and python3-jsonschema.
"""

import argparse
import base64
import binascii
import copy
import hashlib
import json
import os
import signal
import ssl
import sys
import threading
import time
import traceback
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import jsonschema
from jsonschema.exceptions import SchemaError, best_match

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
# The request schemas of Velt's OpenAPI spec (extract_openapi.py writes it; see README.md).
DEFAULT_OPENAPI = os.path.join(SCRIPT_DIR, "openapi_requests.json")

API_VERSIONS = ("v1", "v2")
CONTROL_PREFIX = "/_standin/"
MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_PAGE_SIZE = 1000        # REFERENCE 4.5: pageSize default on the v2 get endpoints
MAX_FILTER_IDS = 30             # REFERENCE 4.6: ids per filter array on get endpoints
ACCESS_TYPES = ("public", "organizationPrivate", "restricted")   # REFERENCE 3.1
DEFAULT_ACCESS_TYPE = "public"
DEFAULT_ACCESS_ROLE = "editor"  # REFERENCE 3.1, 3.8
ROOT_FOLDER = "root"            # parentFolderId of a top-level folder (REFERENCE 2.6, 3.4)
GDPR_PAGE_SIZE = 100            # REFERENCE 2.44: up to 100 items per feature and page

# Canonical gRPC status -> HTTP status (REFERENCE 4.3, the Firebase callable-function mapping).
GRPC_TO_HTTP = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499,
    "INTERNAL": 500, "UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}

# HTTP status -> gRPC status, used only to fill in `error_status` for injected faults.
HTTP_TO_GRPC = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 409: "ABORTED", 416: "OUT_OF_RANGE", 429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def grpc_status_for_http(status):
    if status in HTTP_TO_GRPC:
        return HTTP_TO_GRPC[status]
    if 400 <= status < 500:
        return "FAILED_PRECONDITION"
    if 500 <= status < 600:
        return "INTERNAL"
    return "UNKNOWN"


class ApiError(Exception):
    """A Velt failure envelope; http_status defaults to the gRPC mapping.

    details (optional) becomes error.details: the per-item breakdown of a v2 documents call.
    body (optional) replaces the whole envelope, for the few documented odd shapes (Delete
    Folder's {"error":{"code":"not-found","message":...}}).
    """

    def __init__(self, grpc_status, message, http_status=None, headers=(), details=None,
                 body=None):
        super().__init__(message)
        self.grpc_status = grpc_status
        self.message = message
        self.http_status = http_status or GRPC_TO_HTTP.get(grpc_status, 500)
        self.headers = tuple(headers)
        self.details = details
        self.body = body

    def envelope(self):
        if self.body is not None:
            return copy.deepcopy(self.body)
        error = {"message": self.message, "status": self.grpc_status}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


# A handler returns NO_DATA as its data when the documented success has no "data" key at all
# (Move Documents, Add/Remove Permissions).
NO_DATA = object()

# A handler returns RawAnswer(status, payload) when the documented success is not the usual
# {"result": ...} envelope (GDPR Delete All User Data: unwrapped, HTTP 202).
RawAnswer = namedtuple("RawAnswer", "status payload")


def invalid(message):
    return ApiError("INVALID_ARGUMENT", message)


def compact_json(value, sort_keys=False):
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False)


def now_ms():
    return int(time.time() * 1000)


def opaque_id(*parts):
    """Stable 32-hex id: the docs never say how Velt derives its ids (REFERENCE 3.11)."""
    return hashlib.md5("\x00".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()


def jsonable(value):
    """Deep copy of state for output; sets (group members) become sorted lists."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

class VeltState:
    """In-memory Velt data.  Callers hold StandIn.lock; v1 and v2 share this one state.

    organizations: {orgId: {"users": {userId: user},
                            "documents": {docId: {"users": {...},
                                                  "metadata": {field: value},
                                                  "accessType": str, "disabled": bool,
                                                  "folderId": str|None}},
                            "folders": {folderId: {"users": {...},
                                                   "metadata": {field: value},
                                                   "parentFolderId": "root"|folderId,
                                                   "accessType": str,
                                                   "inheritAccessFromParent": bool,
                                                   "createdAt": ms, "lastUpdated": ms}},
                            "groups": {groupId: {"groupName": str|None, "members": set}},
                            "metadata": {field: value},   # organizations/add|update fields
                            "disabled": bool}}
    metadata holds what organizations/add|update sent, minus organizationId (the key) and
    disabled (kept in "disabled"); organizations created implicitly (users/add, ...) have {}.
    A document's metadata is what documents/add|update sent minus documentId, accessType and
    disabled (kept beside it); documents created implicitly (users/add) have {}.
    A folder's metadata is what folders/add|update sent minus folderId, parentFolderId and
    accessType (folderName stays in it); folders created implicitly (users/add, documents/add)
    have {} and sit at the top level.

    permissions: {userId: {(type, organizationId, id): grant}}  (auth/permissions/add|remove)
    deletion_jobs: {jobId: {...}}                                (users/data/delete)
    tokens_issued, jobs_started: counters behind the fake tokens and job ids.
    """

    # The keys /_standin/state shows under "organizations" (the original shape, kept as is);
    # metadata and disabled are shown under "organizationDetails".
    CONTENT_KEYS = ("users", "documents", "folders", "groups")

    def __init__(self):
        self.organizations = {}
        self.permissions = {}
        self.deletion_jobs = {}
        self.tokens_issued = 0
        self.jobs_started = 0

    @staticmethod
    def new_organization():
        return {"users": {}, "documents": {}, "folders": {}, "groups": {},
                "metadata": {}, "disabled": False}

    @staticmethod
    def new_folder(parent_id=ROOT_FOLDER):
        """A folder; created implicitly (users/add, documents/add) it sits at the top level."""
        now = now_ms()
        return {"users": {}, "metadata": {}, "parentFolderId": parent_id,
                "accessType": DEFAULT_ACCESS_TYPE, "inheritAccessFromParent": False,
                "createdAt": now, "lastUpdated": now}

    @staticmethod
    def new_document(folder_id=None):
        return {"users": {}, "metadata": {}, "accessType": DEFAULT_ACCESS_TYPE,
                "disabled": False, "folderId": folder_id}

    def organization(self, org_id, create=False):
        org = self.organizations.get(org_id)
        if org is None and create:
            org = self.organizations[org_id] = self.new_organization()
        return org

    def snapshot(self):
        organizations, details, folder_details = {}, {}, {}
        for org_id, org in self.organizations.items():
            content = {key: org[key] for key in self.CONTENT_KEYS}
            # A folder keeps its original shape here ({"users": ...}); the rest of it is
            # shown under "folderDetails".
            content["folders"] = {folder_id: {"users": folder["users"]}
                                  for folder_id, folder in org["folders"].items()}
            organizations[org_id] = jsonable(content)
            details[org_id] = {"metadata": jsonable(org["metadata"]),
                               "disabled": org["disabled"]}
            if org["folders"]:
                folder_details[org_id] = {
                    folder_id: jsonable({key: value for key, value in folder.items()
                                         if key != "users"})
                    for folder_id, folder in org["folders"].items()}
        snapshot = {"organizations": organizations, "organizationDetails": details}
        # Keys added with the folders, auth and GDPR endpoints appear only when not empty, so a
        # fresh state still reads {"organizations":{},"organizationDetails":{}}.
        if folder_details:
            snapshot["folderDetails"] = folder_details
        permissions = {user_id: [copy.deepcopy(grants[key]) for key in sorted(grants)]
                       for user_id, grants in sorted(self.permissions.items()) if grants}
        if permissions:
            snapshot["permissions"] = permissions
        if self.deletion_jobs:
            snapshot["deletionJobs"] = copy.deepcopy(self.deletion_jobs)
        if self.tokens_issued:
            snapshot["tokensIssued"] = self.tokens_issued
        return snapshot


UserScope = namedtuple("UserScope", "key users")


def user_scope(state, data, create):
    """The users map that a users/* request addresses: the org's, a document's or a folder's.

    Returns UserScope(key, users); users is None when the org/document/folder does not exist
    and create is false.  key names the scope inside the org (for ids): "org", "document:<id>"
    or "folder:<id>".
    """
    document_id = data.get("documentId")
    folder_id = data.get("folderId")
    if document_id is not None and folder_id is not None:
        # ASSUMPTION: the docs only say "Either provide documentId or folderId".
        raise invalid("Provide either documentId or folderId, not both.")
    org = state.organization(data["organizationId"], create)
    if document_id is not None:
        key, kind, child_id = "document:" + document_id, "documents", document_id
    elif folder_id is not None:
        key, kind, child_id = "folder:" + folder_id, "folders", folder_id
    else:
        return UserScope("org", org["users"] if org is not None else None)
    if org is None:
        return UserScope(key, None)
    children = org[kind]
    if child_id not in children:
        if not create:
            return UserScope(key, None)
        children[child_id] = (state.new_document() if kind == "documents"
                              else state.new_folder())
    return UserScope(key, children[child_id]["users"])


def stored_user(user):
    """The user record kept in state: the object sent, plus the documented defaults."""
    record = copy.deepcopy(user)
    name = record.get("name")
    if "initial" not in record and isinstance(name, str) and name:
        record["initial"] = name[0].upper()
    record.setdefault("accessRole", "editor")
    return record


# --------------------------------------------------------------------------------------------
# Endpoint handlers: handler(state, data) -> (top-level message, per-ID result map).
# They run under the state lock and raise ApiError before changing anything.
# --------------------------------------------------------------------------------------------

def add_users(state, data):
    # The org (and document/folder) is created whatever createOrganization/createDocument/
    # createFolder say: the docs' Info box states creation unconditionally (REFERENCE 2.22).
    scope = user_scope(state, data, create=True)
    org_id = data["organizationId"]
    results = {}
    for user in data["users"]:
        user_id = user["userId"]
        scope.users[user_id] = stored_user(user)
        results[user_id] = {"success": True, "id": opaque_id("user", org_id, scope.key, user_id),
                            "message": "User added."}
    return "User(s) processed successfully.", results


def delete_users(state, data):
    scope = user_scope(state, data, create=False)
    org = state.organization(data["organizationId"])
    results = {}
    for user_id in data["userIds"]:
        if scope.users is None or user_id not in scope.users:
            results[user_id] = {"success": False, "message": "User does not exist."}
            continue
        del scope.users[user_id]
        if scope.key == "org":
            # Only organization users can be group members, so leaving the org leaves its groups.
            for group in org["groups"].values():
                group["members"].discard(user_id)
        results[user_id] = {"success": True, "message": "User removed."}
    return "User(s) deleted successfully.", results


def user_id_of(data, scope, user_id):
    """The per-item id of users/add and users/update: md5 of organization, scope and userId."""
    return opaque_id("user", data["organizationId"], scope.key, user_id)


def update_users(state, data):
    # Merge (ASSUMPTION A19): the fields sent replace the stored ones, the others are kept;
    # nothing is created.  Messages and the inline not-found item follow REFERENCE 2.24.
    scope = user_scope(state, data, create=False)
    results = {}
    for user in data["users"]:
        user_id = user["userId"]
        item_id = user_id_of(data, scope, user_id)
        if scope.users is None or user_id not in scope.users:
            results[user_id] = {"success": False, "id": item_id, "message": "User does not exist."}
            continue
        record = scope.users[user_id]
        changes = copy.deepcopy(user)
        name = changes.get("name")
        if "initial" not in changes and isinstance(name, str) and name:
            # The add rule, applied to the object sent: a new name brings a new initial.
            changes["initial"] = name[0].upper()
        record.update(changes)
        results[user_id] = {"success": True, "id": item_id, "message": "User updated."}
    return "User(s) processed successfully.", results


def get_users(state, data, request):
    if data.get("allDocuments") is True:
        raise ApiError("UNIMPLEMENTED", "allDocuments is not supported by the stand-in.")
    wanted = filter_ids(data, "userIds")
    group_ids = filter_ids(data, "organizationUserGroupIds")
    after, size = page_request(data, request)
    scope = user_scope(state, data, create=False)
    users = scope.users if scope.users is not None else {}
    user_ids = set(users)
    if wanted is not None:
        user_ids &= wanted          # unknown ids are skipped (ASSUMPTION A15)
    if group_ids is not None:
        org = state.organization(data["organizationId"])
        members = set()
        for group_id in group_ids:
            group = org["groups"].get(group_id) if org is not None else None
            if group is not None:
                members |= group["members"]
        user_ids &= members
    page, next_token = paginate(sorted(user_ids), after, size)
    records = [copy.deepcopy(users[user_id]) for user_id in page]
    extra = {"nextPageToken": next_token} if next_token is not None else {}
    return "User(s) retrieved successfully.", records, extra


def add_user_groups(state, data):
    org_id = data["organizationId"]
    org = state.organization(org_id, create=True)  # see add_users about createOrganization
    results = {}
    for group in data["organizationUserGroups"]:
        group_id = group["groupId"]
        existing = org["groups"].get(group_id)
        members = existing["members"] if existing is not None else set()
        # Upsert: the group's attributes are replaced by what was sent; members are kept.
        org["groups"][group_id] = {"groupName": group.get("groupName"), "members": members}
        results[group_id] = {"success": True, "id": opaque_id("group", org_id, group_id),
                             "message": "Organization user group added."}
    return "Organization User Groups added successfully.", results


def find_group(state, data):
    org = state.organization(data["organizationId"])
    if org is None:
        return None, None
    return org, org["groups"].get(data["organizationUserGroupId"])


GROUP_MISSING = {"success": False, "message": "Organization user group does not exist."}


def add_users_to_group(state, data):
    org, group = find_group(state, data)
    group_id = data["organizationUserGroupId"]
    results = {}
    for user_id in data["userIds"]:
        if group is None:
            results[user_id] = dict(GROUP_MISSING)
        elif user_id not in org["users"]:
            results[user_id] = {"success": False, "message": "User is not an organization user."}
        else:
            group["members"].add(user_id)
            results[user_id] = {"success": True, "organizationUserGroupId": group_id,
                                "message": "User added to organization user group."}
    return "Added organization users to group successfully.", results


def delete_users_from_group(state, data):
    user_ids = data.get("userIds") or []
    delete_all = data.get("deleteAll") is True
    # Both are marked required in the docs, but the examples send one or the other.
    if user_ids and delete_all:
        raise invalid("Provide either userIds or deleteAll: true, not both.")
    if not user_ids and not delete_all:
        raise invalid("Provide a non-empty userIds or deleteAll: true.")
    _org, group = find_group(state, data)
    group_id = data["organizationUserGroupId"]
    removed = {"success": True, "organizationUserGroupId": group_id,
               "message": "User deleted from organization user group."}
    results = {}
    if delete_all:
        # An unknown group has no members: nothing to report (ASSUMPTION, see README).
        members = sorted(group["members"]) if group is not None else []
        for user_id in members:
            results[user_id] = dict(removed)
        if group is not None:
            group["members"].clear()
        return "Deleted users from group successfully.", results
    for user_id in user_ids:
        if group is None:
            results[user_id] = dict(GROUP_MISSING)
        elif user_id not in group["members"]:
            results[user_id] = {"success": False,
                                "message": "User is not a member of the organization user group."}
        else:
            group["members"].discard(user_id)
            results[user_id] = dict(removed)
    return "Deleted users from group successfully.", results


# ---- organizations --------------------------------------------------------------------------

ORG_MISSING = "Organization does not exist"


def organization_id(org_id):
    return opaque_id("organization", org_id)


def organization_fields(organization):
    """(metadata, disabled or None) of an organizations/add|update object."""
    metadata = copy.deepcopy(organization)
    del metadata["organizationId"]
    return metadata, metadata.pop("disabled", None)


def add_organizations(state, data):
    # Upsert, per the OpenAPI description of the operation (REFERENCE 2.1): the object sent
    # replaces the metadata; users, documents, folders and groups are kept, and so is the
    # disabled state unless the object carries "disabled" (ASSUMPTION A12).
    results = {}
    for organization in data["organizations"]:
        org_id = organization["organizationId"]
        metadata, disabled = organization_fields(organization)
        org = state.organization(org_id, create=True)
        org["metadata"] = metadata
        if disabled is not None:
            org["disabled"] = disabled
        results[org_id] = {"success": True, "id": organization_id(org_id),
                           "message": "Added Successfully"}
    return "Organization(s) added successfully.", results


def update_organizations(state, data):
    # Merge: the fields sent replace those stored, the others are kept; an unknown
    # organization is reported, not created (ASSUMPTION A13).
    results = {}
    for organization in data["organizations"]:
        org_id = organization["organizationId"]
        org = state.organization(org_id)
        if org is None:
            results[org_id] = {"success": False, "id": organization_id(org_id),
                               "message": ORG_MISSING}
            continue
        metadata, disabled = organization_fields(organization)
        org["metadata"].update(metadata)
        if disabled is not None:
            org["disabled"] = disabled
        results[org_id] = {"success": True, "id": organization_id(org_id),
                           "message": "Updated Successfully"}
    return "Organization(s) updated successfully.", results


def delete_organizations(state, data):
    # Deleting an organization deletes everything in it (REFERENCE 3.1); ASSUMPTION A17.
    results = {}
    for org_id in data["organizationIds"]:
        if org_id in results:
            continue  # a repeated id keeps its first answer
        deleted = state.organizations.pop(org_id, None) is not None
        results[org_id] = {"success": deleted, "id": organization_id(org_id),
                           "message": "Deleted Successfully" if deleted else ORG_MISSING}
    return "Organization(s) deleted successfully.", results


def update_organizations_disabled(state, data):
    # The page says a missing organization is created, its own example answers
    # "Organization does not exist"; the stand-in follows the example (ASSUMPTION A14).
    results = {}
    for org_id in data["organizationIds"]:
        org = state.organization(org_id)
        if org is None:
            results[org_id] = {"success": False, "id": organization_id(org_id),
                               "message": ORG_MISSING}
            continue
        org["disabled"] = data["disabled"]
        results[org_id] = {"success": True, "id": organization_id(org_id),
                           "message": "Updated disable state for organization Successfully"}
    return "Updated disable state for Organization(s) successfully.", results


def organization_record(org_id, org):
    """An organization as organizations/get returns it: id, organizationName, disabled, ..."""
    metadata = org["metadata"]
    record = {"id": org_id}
    if "organizationName" in metadata:
        record["organizationName"] = copy.deepcopy(metadata["organizationName"])
    record["disabled"] = org["disabled"]
    for key, value in metadata.items():
        if key not in record:
            record[key] = copy.deepcopy(value)
    return record


def get_organizations(state, data, request):
    wanted = filter_ids(data, "organizationIds")
    after, size = page_request(data, request)
    if wanted is None:
        org_ids = sorted(state.organizations)
    else:
        # Unknown ids are skipped (ASSUMPTION A15); order and pages: A16.
        org_ids = sorted(org_id for org_id in wanted if org_id in state.organizations)
    page, next_token = paginate(org_ids, after, size)
    records = [organization_record(org_id, state.organizations[org_id]) for org_id in page]
    extra = {"nextPageToken": next_token} if next_token is not None else {}
    return "Organization(s) retrieved successfully.", records, extra


# ---- documents -------------------------------------------------------------------------------

def document_number(org_id, doc_id):
    """Stable 16-digit numeric id, the shape of Velt's document ids (REFERENCE 2.11, 3.11)."""
    digest = int(opaque_id("document", org_id, doc_id), 16)
    return str(10 ** 15 + digest % (9 * 10 ** 15))


def document_missing(doc_id):
    """The failed item of an unknown document (REFERENCE 2.13, 2.14)."""
    return {"success": False, "id": doc_id, "message": "Document does not exist",
            "code": "not-found"}


def document_fields(document):
    """(metadata, accessType or None, disabled or None) of a documents/add|update object."""
    metadata = copy.deepcopy(document)
    del metadata["documentId"]
    return metadata, metadata.pop("accessType", None), metadata.pop("disabled", None)


def set_document_fields(doc, document, replace):
    metadata, access_type, disabled = document_fields(document)
    if replace:
        doc["metadata"] = metadata
    else:
        doc["metadata"].update(metadata)
    if access_type is not None:
        doc["accessType"] = access_type
    if disabled is not None:
        doc["disabled"] = disabled


def add_documents(state, data):
    # The organization and the folder are created on first use whatever createOrganization/
    # createFolder say (as A4).  An existing document is an error (REFERENCE 2.11); a repeated
    # documentId in one request keeps its first answer (as A17).  In v2 any failed item turns
    # the answer into HTTP 500 (Endpoint.partial_failure); the successes stay applied.
    org_id = data["organizationId"]
    org = state.organization(org_id, create=True)
    folder_id = data.get("folderId")
    if folder_id is not None and folder_id not in org["folders"]:
        org["folders"][folder_id] = state.new_folder()
    results = {}
    for document in data["documents"]:
        doc_id = document["documentId"]
        if doc_id in results:
            continue
        if doc_id in org["documents"]:
            results[doc_id] = {"success": False, "id": doc_id,
                               "message": "Document already exists", "code": "already-exists"}
            continue
        doc = org["documents"][doc_id] = state.new_document(folder_id)
        set_document_fields(doc, document, replace=True)
        results[doc_id] = {"success": True, "id": document_number(org_id, doc_id),
                           "message": "Added Successfully"}
    return "Document(s) added successfully.", results


def update_documents(state, data):
    # Merge, as organizations/update (ASSUMPTION A13/A20); unknown documents are not created.
    org_id = data["organizationId"]
    org = state.organization(org_id)
    results = {}
    for document in data["documents"]:
        doc_id = document["documentId"]
        doc = org["documents"].get(doc_id) if org is not None else None
        if doc is None:
            results[doc_id] = document_missing(doc_id)
            continue
        set_document_fields(doc, document, replace=False)
        results[doc_id] = {"success": True, "id": document_number(org_id, doc_id),
                           "message": "Updated Successfully"}
    return "Document(s) updated successfully.", results


def delete_documents(state, data):
    # A document goes with its users (REFERENCE 3.1).  A repeated id keeps its first answer.
    org_id = data["organizationId"]
    org = state.organization(org_id)
    results = {}
    for doc_id in data["documentIds"]:
        if doc_id in results:
            continue
        if org is None or org["documents"].pop(doc_id, None) is None:
            results[doc_id] = document_missing(doc_id)
            continue
        results[doc_id] = {"success": True, "id": document_number(org_id, doc_id),
                           "message": "Deleted Successfully"}
    return "Document(s) deleted successfully.", results


def update_documents_setting(state, data, field, message):
    """access/update and access/disablestate/update: set one field on each known document.

    Unknown documents get the not-found item of update/delete, inside an HTTP 200 answer also
    in v2 (the docs show only success; ASSUMPTION A21).
    """
    org = state.organization(data["organizationId"])
    value = data[field]
    results = {}
    for doc_id in data["documentIds"]:
        doc = org["documents"].get(doc_id) if org is not None else None
        if doc is None:
            results[doc_id] = document_missing(doc_id)
            continue
        doc[field] = value
        results[doc_id] = {"success": True, field: value, "message": message}
    return results


def update_documents_access(state, data):
    return ("Updated access for documents successfully.",
            update_documents_setting(state, data, "accessType", "Document access type updated."))


def update_documents_disabled(state, data):
    return ("Updated disable state for documents successfully.",
            update_documents_setting(state, data, "disabled", "Document disabled state updated."))


def document_record(doc_id, doc):
    """A document as documents/get returns it: id, documentName, disabled, accessType, ..."""
    metadata = doc["metadata"]
    record = {"id": doc_id}
    if "documentName" in metadata:
        record["documentName"] = copy.deepcopy(metadata["documentName"])
    record["disabled"] = doc["disabled"]
    record["accessType"] = doc["accessType"]
    if doc["folderId"] is not None:
        record["folderId"] = doc["folderId"]
    for key, value in metadata.items():
        if key not in record:
            record[key] = copy.deepcopy(value)
    return record


def get_documents(state, data, request):
    filter_ids(data, "documentIds")  # the 30-id check
    requested = list(dict.fromkeys(data.get("documentIds") or []))  # distinct, request order
    after, size = page_request(data, request)
    org = state.organization(data["organizationId"])
    documents = org["documents"] if org is not None else {}
    missing = [doc_id for doc_id in requested if doc_id not in documents]
    if missing and request.version == "v2":
        # REFERENCE 2.12: a requested document that cannot be returned makes the whole call
        # HTTP 500; details lists every requested id in request order.  v1 skips them (A22).
        details = [document_record(doc_id, documents[doc_id]) if doc_id in documents
                   else document_missing(doc_id) for doc_id in requested]
        raise ApiError("INTERNAL", "Error retrieving document(s).", details=details)
    if requested:
        doc_ids = [doc_id for doc_id in requested if doc_id in documents]
    else:
        doc_ids = list(documents)
    folder_id = data.get("folderId")
    if folder_id is not None:
        doc_ids = [doc_id for doc_id in doc_ids if documents[doc_id]["folderId"] == folder_id]
    page, next_token = paginate(sorted(doc_ids), after, size)
    records = [document_record(doc_id, documents[doc_id]) for doc_id in page]
    # Get Documents names its continuation token "pageToken" (REFERENCE 2.12, 4.5).
    extra = {"pageToken": next_token} if next_token is not None else {}
    return "Document(s) retrieved successfully.", records, extra


def move_documents(state, data):
    # REFERENCE 2.15: at most 30 documentIds, a target folderId, a success without "data".
    # Unknown documents and folders are not documented: all or nothing (ASSUMPTION A27).
    filter_ids(data, "documentIds")  # the 30-id check, with Velt's wording
    org = state.organization(data["organizationId"])
    documents = org["documents"] if org is not None else {}
    requested = list(dict.fromkeys(data["documentIds"]))
    missing = [doc_id for doc_id in requested if doc_id not in documents]
    if missing:
        raise ApiError("NOT_FOUND", "Error moving document(s).",
                       details=[document_missing(doc_id) for doc_id in missing])
    target = data["folderId"]
    if target != ROOT_FOLDER and target not in org["folders"]:
        raise ApiError("NOT_FOUND", FOLDER_MISSING)
    for doc_id in requested:
        documents[doc_id]["folderId"] = None if target == ROOT_FOLDER else target
    return "Documents moved successfully.", NO_DATA


# ---- folders ---------------------------------------------------------------------------------

FOLDER_MISSING = "Folder not found."   # the wording of Delete Folder (REFERENCE 2.9)
PARENT_MISSING = "Parent folder not found."
FOLDER_CYCLE = "A folder cannot be moved into itself or one of its subfolders."
ROOT_RESERVED = '"root" cannot be used as a folderId.'
FOLDER_STRUCTURE_KEYS = ("folderId", "parentFolderId", "accessType")


def folder_missing(folder_id):
    return {"success": False, "id": folder_id, "message": FOLDER_MISSING, "code": "not-found"}


def folder_descendants(folders, folder_id):
    """The ids of every folder below folder_id (not folder_id itself)."""
    children = {}
    for child_id, folder in folders.items():
        children.setdefault(folder["parentFolderId"], []).append(child_id)
    found, pending = set(), [folder_id]
    while pending:
        for child_id in children.get(pending.pop(), ()):
            if child_id not in found and child_id != folder_id:
                found.add(child_id)
                pending.append(child_id)
    return found


def folder_ancestors(folders, folder_id):
    """["root", ..., parent]: the documented `ancestors` of a folder (REFERENCE 2.7)."""
    chain, seen = [], {folder_id}
    parent = folders[folder_id]["parentFolderId"]
    while parent != ROOT_FOLDER and parent in folders and parent not in seen:
        chain.append(parent)
        seen.add(parent)
        parent = folders[parent]["parentFolderId"]
    return [ROOT_FOLDER] + chain[::-1]


def folder_access_type(folders, folder_id):
    """The access type in force: a folder that inherits takes its parent's (ASSUMPTION A25)."""
    folder, seen = folders[folder_id], {folder_id}
    while (folder["inheritAccessFromParent"] and folder["parentFolderId"] in folders
           and folder["parentFolderId"] not in seen):
        seen.add(folder["parentFolderId"])
        folder = folders[folder["parentFolderId"]]
    return folder["accessType"]


def check_folder_parent(folders, folder_id, parent_id):
    """None when folder_id may sit under parent_id, else the failed item."""
    if parent_id == ROOT_FOLDER:
        return None
    if parent_id not in folders:
        return {"success": False, "id": folder_id, "message": PARENT_MISSING,
                "code": "not-found"}
    if folder_id in folders and (parent_id == folder_id
                                 or parent_id in folder_descendants(folders, folder_id)):
        return {"success": False, "id": folder_id, "message": FOLDER_CYCLE}
    return None


def folder_fields(folder):
    """(metadata, accessType or None) of a folders/add|update object."""
    metadata = copy.deepcopy(folder)
    for key in ("folderId", "parentFolderId"):
        metadata.pop(key, None)
    return metadata, metadata.pop("accessType", None)


def add_folders(state, data):
    # REFERENCE 2.6.  The organization is created whatever createOrganization says (as A4).
    # Upsert (ASSUMPTION A24): an existing folder (also one created implicitly) gets its
    # metadata and parent replaced; its users, documents and subfolders stay; its access
    # setting stays unless accessType is sent.  Folders are added in request order, so a
    # parent may come earlier in the same request.
    org = state.organization(data["organizationId"], create=True)
    folders = org["folders"]
    results = {}
    for folder in data["folders"]:
        folder_id = folder["folderId"]
        if folder_id in results:
            continue  # a repeated id keeps its first answer (as A17)
        if folder_id == ROOT_FOLDER:
            results[folder_id] = {"success": False, "id": folder_id, "message": ROOT_RESERVED}
            continue
        parent_id = folder.get("parentFolderId", ROOT_FOLDER)
        failure = check_folder_parent(folders, folder_id, parent_id)
        if failure is not None:
            results[folder_id] = failure
            continue
        metadata, access_type = folder_fields(folder)
        record = folders.get(folder_id)
        if record is None:
            record = folders[folder_id] = state.new_folder(parent_id)
            # A new subfolder without an accessType inherits its parent's (ASSUMPTION A25).
            record["inheritAccessFromParent"] = (parent_id != ROOT_FOLDER
                                                 and access_type is None)
        record["metadata"] = metadata
        record["parentFolderId"] = parent_id
        if access_type is not None:
            record["accessType"] = access_type
            record["inheritAccessFromParent"] = False
        record["lastUpdated"] = now_ms()
        results[folder_id] = {"success": True, "id": folder_id, "message": "Folder added."}
    return "Folder created successfully.", results


def update_folders(state, data):
    # REFERENCE 2.8: rename / metadata (merged, as A20) or move (parentFolderId).  Unknown
    # folders are reported inline and not created (ASSUMPTION A24).
    org = state.organization(data["organizationId"])
    folders = org["folders"] if org is not None else {}
    results = {}
    for folder in data["folders"]:
        folder_id = folder["folderId"]
        if folder_id in results:
            continue
        record = folders.get(folder_id)
        if record is None:
            results[folder_id] = folder_missing(folder_id)
            continue
        if "parentFolderId" in folder:
            failure = check_folder_parent(folders, folder_id, folder["parentFolderId"])
            if failure is not None:
                results[folder_id] = failure
                continue
            record["parentFolderId"] = folder["parentFolderId"]
        metadata, access_type = folder_fields(folder)
        record["metadata"].update(metadata)
        if access_type is not None:
            record["accessType"] = access_type
            record["inheritAccessFromParent"] = False
        record["lastUpdated"] = now_ms()
        results[folder_id] = {"success": True, "id": folder_id, "message": "Folder Updated."}
    return "Folder Updated successfully.", results


def delete_folder(state, data):
    # REFERENCE 2.9 (v2 only): one folder with its subfolders, their documents (with their
    # users) and their folder users.  Velt "initiates" the deletion; the stand-in deletes at
    # once.  The documented failure has its own shape: {"error":{"code","message"}}.
    org = state.organization(data["organizationId"])
    folder_id = data["folderId"]
    if org is None or folder_id not in org["folders"]:
        raise ApiError("NOT_FOUND", FOLDER_MISSING,
                       body={"error": {"code": "not-found", "message": FOLDER_MISSING}})
    doomed = folder_descendants(org["folders"], folder_id) | {folder_id}
    for doomed_id in doomed:
        del org["folders"][doomed_id]
    for doc_id in [doc_id for doc_id, doc in org["documents"].items()
                   if doc["folderId"] in doomed]:
        del org["documents"][doc_id]
    return "Folder deletion initiated successfully.", None


def update_folders_access(state, data):
    # REFERENCE 2.10.  accessType is marked required (with a default), but the inherit example
    # omits it: exactly one of accessType / inheritFromParent: true (ASSUMPTION A26).
    inherit = data.get("inheritFromParent") is True
    access_type = data.get("accessType")
    if inherit and access_type is not None:
        raise invalid("Provide either accessType or inheritFromParent: true, not both.")
    if not inherit and access_type is None:
        raise invalid("Provide accessType or inheritFromParent: true.")
    org = state.organization(data["organizationId"])
    folders = org["folders"] if org is not None else {}
    results = {}
    for folder_id in data["folderIds"]:
        if folder_id in results:
            continue
        record = folders.get(folder_id)
        if record is None:
            results[folder_id] = folder_missing(folder_id)
            continue
        if inherit:
            record["inheritAccessFromParent"] = True
            results[folder_id] = {"success": True, "accessType": None, "inheritFromParent": True,
                                  "message": "Folder access type updated."}
        else:
            record["accessType"] = access_type
            record["inheritAccessFromParent"] = False
            results[folder_id] = {"success": True, "accessType": access_type,
                                  "message": "Folder access type updated."}
        record["lastUpdated"] = now_ms()
    if inherit:
        return "Folder access type updated.", results
    return "Updated access for folders successfully.", results


def folder_record(org_id, folders, folder_id, request, depth=0):
    """A folder as folders/get returns it (REFERENCE 2.7); v1 records are leaner.

    depth > 0 adds subFolders (sorted by folderId) down that many levels.
    """
    folder = folders[folder_id]
    metadata = folder["metadata"]
    record = {"folderId": folder_id}
    if "folderName" in metadata:
        record["folderName"] = copy.deepcopy(metadata["folderName"])
    record["organizationId"] = org_id
    record["parentFolderId"] = folder["parentFolderId"]
    if request.version == "v2":
        record["apiKey"] = request.api_key
    record["createdAt"] = folder["createdAt"]
    record["lastUpdated"] = folder["lastUpdated"]
    if request.version == "v2":
        record["ancestors"] = folder_ancestors(folders, folder_id)
        record["accessType"] = folder_access_type(folders, folder_id)
        record["inheritAccessFromParent"] = folder["inheritAccessFromParent"]
    for key, value in metadata.items():
        if key not in record:
            record[key] = copy.deepcopy(value)
    if depth > 0:
        record["subFolders"] = [
            folder_record(org_id, folders, child_id, request, depth - 1)
            for child_id in sorted(child_id for child_id, child in folders.items()
                                   if child["parentFolderId"] == folder_id)]
    return record


def get_folders(state, data, request):
    # REFERENCE 2.7: no pagination; all folders (a flat list, nested ones included, sorted by
    # folderId), or one folder with its subFolders (maxDepth levels, v2; default 1).
    org_id = data["organizationId"]
    org = state.organization(org_id)
    folders = org["folders"] if org is not None else {}
    folder_id = data.get("folderId")
    if folder_id is None:
        return ("Folders retrieved successfully.",
                [folder_record(org_id, folders, key, request) for key in sorted(folders)])
    if request.version == "v1":
        message, depth = "Folders retrieved successfully.", 1
    else:
        message, depth = "Folder(s) retrieved successfully.", data.get("maxDepth", 1)
    if folder_id not in folders:
        return message, []  # unknown folder or organization: nothing (ASSUMPTION A24)
    return message, [folder_record(org_id, folders, folder_id, request, depth)]


# ---- access control (auth) ------------------------------------------------------------------

TOKEN_ISSUER = "velt-standin"
TOKEN_HEADER = '{"alg":"HS256","typ":"JWT"}'   # the header of the docs' sample token


def base64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def issue_token(state, claims):
    """A deterministic JWT-looking string: header.claims.signature, base64url without padding.

    The claims are what the request said plus a counter "n" (1, 2, ... since reset), so two
    calls never return the same token and a reset replays the same sequence.  It is not signed
    with any secret and carries no expiry (ASSUMPTION A28).
    """
    state.tokens_issued += 1
    claims = dict(claims, iss=TOKEN_ISSUER, n=state.tokens_issued)
    signing_input = (base64url(TOKEN_HEADER.encode("utf-8")) + "."
                     + base64url(compact_json(claims, sort_keys=True).encode("utf-8")))
    signature = hashlib.sha256((TOKEN_ISSUER + "." + signing_input).encode("utf-8")).digest()
    return signing_input + "." + base64url(signature)


def get_token_v1(state, data):
    # REFERENCE 2.47 (v1 only): credentials in the body, checked before this handler runs.
    claims = {"userId": data["userId"]}
    if "userProperties" in data:
        claims["userProperties"] = copy.deepcopy(data["userProperties"])
    return "Token generated successfully.", {"token": issue_token(state, claims)}


def generate_token(state, data):
    # REFERENCE 2.48 (v2 only).  The token carries the permissions; they are not stored
    # (no one signs in with it here; ASSUMPTION A28).
    if "organizationId" in data["userProperties"]:
        raise invalid('userProperties.organizationId is not supported; grant organizations with '
                      'a permissions.resources entry of type "organization".')
    claims = {"userId": data["userId"],
              "userProperties": copy.deepcopy(data["userProperties"]),
              "permissions": copy.deepcopy(data["permissions"])}
    return "Token generated successfully.", {"token": issue_token(state, claims)}


def resource_key(resource):
    """(type, organizationId, id) of a permission resource; an organization is its own org."""
    kind = resource["type"]
    org_id = resource["id"] if kind == "organization" else resource.get("organizationId")
    return kind, org_id, resource["id"]


def add_permissions(state, data):
    # REFERENCE 2.49: grants for one user; a grant on the same resource replaces the earlier
    # one.  The resources need not exist (ASSUMPTION A29).
    grants = state.permissions.setdefault(data["user"]["userId"], {})
    for resource in data["permissions"]["resources"]:
        kind, org_id, resource_id = key = resource_key(resource)
        grant = {"type": kind, "id": resource_id, "organizationId": org_id,
                 "accessRole": resource.get("accessRole", DEFAULT_ACCESS_ROLE)}
        if "expiresAt" in resource:
            grant["expiresAt"] = resource["expiresAt"]
        grants[key] = grant
    if not grants:
        del state.permissions[data["user"]["userId"]]
    return "Permissions added successfully.", NO_DATA


def remove_permissions(state, data):
    # REFERENCE 2.51: the user is a top-level userId.  Removing what was never granted is no
    # error.  A folder without organizationId (optional there) removes that folder id's grants
    # in every organization (ASSUMPTION A29).
    user_id = data["userId"]
    grants = state.permissions.get(user_id, {})
    for resource in data["permissions"]["resources"]:
        if resource["type"] == "folder" and "organizationId" not in resource:
            for key in [key for key in grants if key[0] == "folder" and key[2] == resource["id"]]:
                del grants[key]
        else:
            grants.pop(resource_key(resource), None)
    if user_id in state.permissions and not grants:
        del state.permissions[user_id]
    return "Permissions removed successfully.", NO_DATA


def active_grant(state, user_id, kind, org_id, resource_id):
    grant = state.permissions.get(user_id, {}).get((kind, org_id, resource_id))
    if grant is None or ("expiresAt" in grant and grant["expiresAt"] <= time.time()):
        return None
    return grant


def granted(role, grant=None, **extra):
    """A permission entry of Get Permissions: accessRole (+ expiresAt of a temporary grant)."""
    entry = {"accessRole": role}
    entry.update(extra)
    if grant is not None and "expiresAt" in grant:
        entry["expiresAt"] = grant["expiresAt"]
    return entry


def organization_access(state, user_id, org_id, org):
    """(role, grant) of a user in an organization, or None: a grant, else organization user."""
    grant = active_grant(state, user_id, "organization", org_id, org_id)
    if grant is not None:
        return grant["accessRole"], grant
    if org is not None and user_id in org["users"]:
        return org["users"][user_id].get("accessRole", DEFAULT_ACCESS_ROLE), None
    return None


def folder_chain_access(state, user_id, org_id, folders, folder_id):
    """(role, grant) from a grant or a folder user on folder_id or the nearest ancestor."""
    seen = set()
    while folder_id in folders and folder_id not in seen:
        seen.add(folder_id)
        grant = active_grant(state, user_id, "folder", org_id, folder_id)
        if grant is not None:
            return grant["accessRole"], grant
        member = folders[folder_id]["users"].get(user_id)
        if member is not None:
            return member.get("accessRole", DEFAULT_ACCESS_ROLE), None
        folder_id = folders[folder_id]["parentFolderId"]
    return None


def access_entry(kind, access_type, explicit, org_access):
    """The Get Permissions entry of a folder or document (ASSUMPTION A29)."""
    if explicit is not None:
        return granted(explicit[0], explicit[1], accessType=access_type)
    if access_type == "public":
        return granted(org_access[0] if org_access else DEFAULT_ACCESS_ROLE,
                       accessType=access_type)
    if access_type == "organizationPrivate" and org_access is not None:
        return granted(org_access[0], accessType=access_type)
    return {"error": "User does not have access to %s" % kind, "errorCode": "permission_denied",
            "accessType": access_type}


def get_permissions(state, data):
    # REFERENCE 2.50.  Per user: folders (when folderIds), documents (when documentIds) and the
    # organization.  A requested folder or document that does not exist turns the call into
    # HTTP 404 NOT_FOUND with the per-user map in details (as documented).
    org_id = data["organizationId"]
    org = state.organization(org_id)
    folders = org["folders"] if org is not None else {}
    documents = org["documents"] if org is not None else {}
    folder_ids = list(dict.fromkeys(data.get("folderIds") or []))
    doc_ids = list(dict.fromkeys(data.get("documentIds") or []))
    missing = False
    results = {}
    for user_id in dict.fromkeys(data["userIds"]):
        org_access = organization_access(state, user_id, org_id, org)
        entry = {}
        if folder_ids:
            entry["folders"] = {}
            for folder_id in folder_ids:
                if folder_id not in folders:
                    missing = True
                    entry["folders"][folder_id] = {"error": "Folder does not exist",
                                                   "errorCode": "does_not_exist"}
                    continue
                entry["folders"][folder_id] = access_entry(
                    "folder", folder_access_type(folders, folder_id),
                    folder_chain_access(state, user_id, org_id, folders, folder_id), org_access)
        if doc_ids:
            entry["documents"] = {}
            for doc_id in doc_ids:
                doc = documents.get(doc_id)
                if doc is None:
                    missing = True
                    entry["documents"][doc_id] = {"error": "Document does not exist",
                                                  "errorCode": "does_not_exist"}
                    continue
                grant = active_grant(state, user_id, "document", org_id, doc_id)
                if grant is not None:
                    explicit = (grant["accessRole"], grant)
                elif user_id in doc["users"]:
                    explicit = (doc["users"][user_id].get("accessRole", DEFAULT_ACCESS_ROLE),
                                None)
                else:
                    explicit = folder_chain_access(state, user_id, org_id, folders,
                                                   doc["folderId"])
                entry["documents"][doc_id] = access_entry("document", doc["accessType"],
                                                          explicit, org_access)
        if org_access is not None:
            entry["organization"] = {org_id: granted(*org_access)}
        else:
            entry["organization"] = {org_id: {
                "error": "User does not have access to organization",
                "errorCode": "permission_denied"}}
        results[user_id] = entry
    if missing:
        raise ApiError("NOT_FOUND", "Folder or document does not exist", details=results)
    return "User permissions retrieved successfully.", results


# ---- GDPR ------------------------------------------------------------------------------------

GDPR_FEATURES = ("comments", "reactions", "recordings", "notifications")  # REFERENCE 2.44
GDPR_PAGE_PREFIX = "page:"


def encode_gdpr_token(page):
    return base64.urlsafe_b64encode(("%s%d" % (GDPR_PAGE_PREFIX, page)).encode("ascii")).decode(
        "ascii")


def decode_gdpr_token(token):
    """The page number (2, 3, ...) a GDPR page token names; ApiError for anything else."""
    try:
        text = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode(
            "ascii")
        page = int(text[len(GDPR_PAGE_PREFIX):]) if text.startswith(GDPR_PAGE_PREFIX) else 0
    except (UnicodeError, binascii.Error, ValueError):
        page = 0
    if page < 2 or encode_gdpr_token(page) != token:
        raise invalid("Invalid pageToken.")
    return page


def user_data(state, org_id, user_id):
    """Everything the stand-in knows about a user in one organization, feature by feature."""
    items = {feature: [] for feature in GDPR_FEATURES}  # not modelled: always empty
    org = state.organization(org_id)
    users, groups = [], []
    if org is not None:
        if user_id in org["users"]:
            users.append({"organizationId": org_id, "user": copy.deepcopy(org["users"][user_id])})
        for kind, key in (("folders", "folderId"), ("documents", "documentId")):
            for child_id in sorted(org[kind]):
                member = org[kind][child_id]["users"].get(user_id)
                if member is not None:
                    users.append({"organizationId": org_id, key: child_id,
                                  "user": copy.deepcopy(member)})
        for group_id in sorted(org["groups"]):
            group = org["groups"][group_id]
            if user_id in group["members"]:
                groups.append({"organizationId": org_id, "groupId": group_id,
                               "groupName": group["groupName"]})
    grants = state.permissions.get(user_id, {})
    items["users"] = users
    items["organizationUserGroups"] = groups
    items["permissions"] = [copy.deepcopy(grants[key]) for key in sorted(grants)
                            if key[1] == org_id]
    return items


def get_user_data(state, data, request):
    # REFERENCE 2.44, v1 and v2 alike: pages of up to 100 items per feature (capped by
    # max_page_size); nextPageToken is null on the last page, as the example shows (A30).
    token = data.get("pageToken")
    page = decode_gdpr_token(token) if token else 1
    size = GDPR_PAGE_SIZE
    if request.max_page_size is not None:
        size = min(size, request.max_page_size)
    start = (page - 1) * size
    result, more = {}, False
    for feature, values in user_data(state, data["organizationId"], data["userId"]).items():
        result[feature] = values[start:start + size]
        more = more or len(values) > start + size
    return ("Data fetched successfully.", result,
            {"nextPageToken": encode_gdpr_token(page + 1) if more else None})


JOB_ID_ALPHABET = ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "abcdefghijklmnopqrstuvwxyz")


def job_id(number, user_ids):
    """A stable 20-character id shaped like the docs' example ("dsQuvPmIynANgPLLEhCm")."""
    value = int(opaque_id("gdpr-job", str(number), *user_ids), 16)
    characters = []
    for _ in range(20):
        value, digit = divmod(value, len(JOB_ID_ALPHABET))
        characters.append(JOB_ID_ALPHABET[digit])
    return "".join(characters)


def delete_user_data(state, data):
    # REFERENCE 2.45: the user goes everywhere (every organization, whatever organizationIds
    # says: only a hint for Velt), at once; the job is complete from the start (A31).  The
    # success is not wrapped in "result" and answers HTTP 202.
    user_ids = list(dict.fromkeys(data["userIds"]))
    removed = 0
    for org in state.organizations.values():
        scopes = [org["users"]] + [child["users"] for kind in ("documents", "folders")
                                   for child in org[kind].values()]
        for user_id in user_ids:
            for users in scopes:
                if users.pop(user_id, None) is not None:
                    removed += 1
            for group in org["groups"].values():
                if user_id in group["members"]:
                    group["members"].discard(user_id)
                    removed += 1
    for user_id in user_ids:
        removed += len(state.permissions.pop(user_id, {}))
    state.jobs_started += 1
    new_job_id = job_id(state.jobs_started, user_ids)
    state.deletion_jobs[new_job_id] = {
        "userIds": user_ids, "organizationIds": list(data.get("organizationIds") or []),
        "tasksCount": removed, "lastTaskCompletedTime": now_ms()}
    return RawAnswer(202, {"status": "success",
                           "message": "Data deletion process has been initiated.",
                           "data": {"jobId": new_job_id, "tasksCount": removed},
                           "statusCode": 202})


def get_user_data_deletion_status(state, data):
    # REFERENCE 2.46.  An unknown jobId is not documented (ASSUMPTION A31).
    job = state.deletion_jobs.get(data["jobId"])
    if job is None:
        raise ApiError("NOT_FOUND", "Job not found.")
    return "Data fetched successfully.", {"isDeleteCompleted": True, "tasksLeft": 0,
                                          "lastTaskCompletedTime": job["lastTaskCompletedTime"]}


# ---- reads: id filters and pagination (shared by every get endpoint) ------------------------

PAGE_TOKEN_PREFIX = "after:"


def encode_page_token(last_id):
    """Opaque page token: base64url of "after:<last id on the page>"."""
    raw = (PAGE_TOKEN_PREFIX + last_id).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_page_token(token):
    """The id a page token says to continue after; ApiError for anything we did not issue."""
    try:
        raw = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        text = raw.decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        text = None
    if (text is None or not text.startswith(PAGE_TOKEN_PREFIX)
            or encode_page_token(text[len(PAGE_TOKEN_PREFIX):]) != token):
        raise invalid("Invalid pageToken.")
    return text[len(PAGE_TOKEN_PREFIX):]


def filter_ids(data, key):
    """The distinct ids of an optional filter array, or None when absent or empty (= all, A15)."""
    ids = data.get(key)
    if not ids:
        return None
    if len(ids) > MAX_FILTER_IDS:
        raise invalid("Only %d %s can be passed at a time." % (MAX_FILTER_IDS, key))
    return set(ids)


def page_request(data, request):
    """(continue after this id or None, page size or None for everything) of a get request.

    v1 has no pagination: pageSize and pageToken are ignored there (REFERENCE 4.5).
    """
    if request.version == "v1":
        return None, None
    size = int(data.get("pageSize", DEFAULT_PAGE_SIZE))
    if request.max_page_size is not None:
        size = min(size, request.max_page_size)
    token = data.get("pageToken")
    # An empty pageToken means "first page" (ASSUMPTION A16).
    return (decode_page_token(token) if token else None), size


def paginate(sorted_ids, after, size):
    """(the ids of this page, token for the next page or None when this is the last)."""
    if after is not None:
        sorted_ids = [item for item in sorted_ids if item > after]
    if size is None or len(sorted_ids) <= size:
        return sorted_ids, None
    page = sorted_ids[:size]
    return page, encode_page_token(page[-1])


# --------------------------------------------------------------------------------------------
# Endpoint table.  data_schema is the hand-written JSON schema for body["data"]; it always
# applies (after the OpenAPI schema, when the spec has the path) and guarantees what the
# handler relies on.  A new endpoint is one more row here plus its handler.
#
# A handler is handler(state, data), or handler(state, data, request) when the row says
# takes_request=True (request: RequestContext, for the API version and the page-size cap).
# It returns (message, data) or (message, data, extra): extra's keys (e.g. nextPageToken) go
# into "result" beside "data".
#
# partial_failure (a message) marks the v2 documents writes: when any item of the per-ID map
# failed, v2 answers HTTP 500 {"error":{"message":<it>,"status":"INTERNAL","details":<map>}}
# instead of the success envelope (the handler's changes stay applied); v1 answers HTTP 200.
#
# The data a handler returns may be NO_DATA (the success has no "data" key) or None ("data":
# null); a handler may also return RawAnswer(status, payload) for a non-standard success.
#
# versions: the API versions that serve the path (a path under another version is 404).
# body_credentials: no header auth; data.apiKey/data.authToken are checked instead (v1
#   auth/token/get), and redacted in the request log.
# spec_wrapped: the spec's requestBody schema describes the inside of "data" (it shows an
#   unwrapped body, which the page says Velt rejects); it is applied to body["data"].
# error_code: added as "code" to every error envelope after auth (GDPR get/status show
#   {"error":{"message","status","code":500}}).
# --------------------------------------------------------------------------------------------

Endpoint = namedtuple("Endpoint", "handler data_schema takes_request partial_failure versions "
                      "body_credentials spec_wrapped error_code",
                      defaults=(False, None, API_VERSIONS, False, False, None))

# What a handler may want to know beyond the body: "v1"/"v2", the control setting
# max_page_size (None or a positive int), and the API key the stand-in accepts.
RequestContext = namedtuple("RequestContext", "version max_page_size api_key",
                            defaults=(None,))

STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
STRING_LIST = {"type": "array", "items": STRING}

ORGANIZATIONS_DATA = {
    "type": "object",
    "required": ["organizations"],
    "properties": {
        "organizations": {"type": "array", "items": {
            "type": "object",
            "required": ["organizationId"],
            "properties": {"organizationId": STRING, "organizationName": STRING,
                           "disabled": BOOLEAN}}},
    },
}

USERS_ARRAY = {"type": "array", "items": {
    "type": "object",
    "required": ["userId"],
    "properties": {"userId": STRING, "name": STRING, "email": STRING, "initial": STRING,
                   "accessRole": {"enum": ["viewer", "editor"]}}}}

PAGE_FIELDS = {"pageSize": {"type": "integer", "minimum": 1}, "pageToken": STRING}

ACCESS_TYPE = {"enum": list(ACCESS_TYPES)}

DOCUMENTS_ARRAY = {"type": "array", "items": {
    "type": "object",
    "required": ["documentId"],
    "properties": {"documentId": STRING, "documentName": STRING, "accessType": ACCESS_TYPE,
                   "disabled": BOOLEAN}}}

DOCUMENT_IDS = dict(STRING_LIST, minItems=1)

FOLDERS_ARRAY = {"type": "array", "items": {
    "type": "object",
    "required": ["folderId"],
    "properties": {"folderId": STRING, "folderName": STRING, "parentFolderId": STRING,
                   "accessType": ACCESS_TYPE}}}

RESOURCE_TYPE = {"enum": ["organization", "document", "folder"]}

# A permission resource (REFERENCE 3.8): organizationId is required for documents and folders.
RESOURCE = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {"type": RESOURCE_TYPE, "id": STRING, "organizationId": STRING,
                   "accessRole": {"enum": ["viewer", "editor"]}, "expiresAt": {"type": "number"}},
    "if": {"properties": {"type": {"enum": ["document", "folder"]}}, "required": ["type"]},
    "then": {"required": ["organizationId"]},
}

# Remove Permissions requires organizationId only for documents (REFERENCE 2.51).
RESOURCE_TO_REMOVE = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {"type": RESOURCE_TYPE, "id": STRING, "organizationId": STRING},
    "if": {"properties": {"type": {"const": "document"}}, "required": ["type"]},
    "then": {"required": ["organizationId"]},
}


def permissions_schema(resource):
    return {"type": "object", "required": ["resources"],
            "properties": {"resources": {"type": "array", "items": resource}}}

ENDPOINTS = {
    "users/add": Endpoint(add_users, {
        "type": "object",
        "required": ["organizationId", "users"],
        "properties": {
            "organizationId": STRING, "documentId": STRING, "folderId": STRING,
            "createOrganization": BOOLEAN, "createDocument": BOOLEAN, "createFolder": BOOLEAN,
            "users": USERS_ARRAY,
        },
    }),
    "users/update": Endpoint(update_users, {
        "type": "object",
        "required": ["organizationId", "users"],
        "properties": {"organizationId": STRING, "documentId": STRING, "folderId": STRING,
                       "users": USERS_ARRAY},
    }),
    # The 30-id limits are checked by the handler, with Velt's wording.
    "users/get": Endpoint(get_users, {
        "type": "object",
        "required": ["organizationId"],
        "properties": dict(PAGE_FIELDS, organizationId=STRING, documentId=STRING,
                           folderId=STRING, userIds=STRING_LIST,
                           organizationUserGroupIds=STRING_LIST, allDocuments=BOOLEAN,
                           groupByDocumentId=BOOLEAN),
    }, takes_request=True),
    "users/delete": Endpoint(delete_users, {
        "type": "object",
        "required": ["organizationId", "userIds"],
        "properties": {"organizationId": STRING, "documentId": STRING, "folderId": STRING,
                       "userIds": STRING_LIST},
    }),
    "organizations/usergroups/add": Endpoint(add_user_groups, {
        "type": "object",
        "required": ["organizationId", "organizationUserGroups"],
        "properties": {
            "organizationId": STRING, "createOrganization": BOOLEAN,
            "organizationUserGroups": {"type": "array", "items": {
                "type": "object",
                "required": ["groupId"],
                "properties": {"groupId": STRING, "groupName": STRING}}},
        },
    }),
    "organizations/usergroups/users/add": Endpoint(add_users_to_group, {
        "type": "object",
        "required": ["organizationId", "organizationUserGroupId", "userIds"],
        "properties": {"organizationId": STRING, "organizationUserGroupId": STRING,
                       "userIds": dict(STRING_LIST, minItems=1)},
    }),
    # "exactly one of userIds / deleteAll" is checked by the handler, with a clearer message.
    "organizations/usergroups/users/delete": Endpoint(delete_users_from_group, {
        "type": "object",
        "required": ["organizationId", "organizationUserGroupId"],
        "properties": {"organizationId": STRING, "organizationUserGroupId": STRING,
                       "userIds": STRING_LIST, "deleteAll": BOOLEAN},
    }),
    "organizations/add": Endpoint(add_organizations, ORGANIZATIONS_DATA),
    "organizations/update": Endpoint(update_organizations, ORGANIZATIONS_DATA),
    "organizations/delete": Endpoint(delete_organizations, {
        "type": "object",
        "required": ["organizationIds"],
        "properties": {"organizationIds": dict(STRING_LIST, minItems=1)},
    }),
    "organizations/access/disablestate/update": Endpoint(update_organizations_disabled, {
        "type": "object",
        "required": ["organizationIds", "disabled"],
        "properties": {"organizationIds": dict(STRING_LIST, minItems=1), "disabled": BOOLEAN},
    }),
    # The 30-id limit is checked by the handler, with Velt's wording.
    "organizations/get": Endpoint(get_organizations, {
        "type": "object",
        "properties": {"organizationIds": STRING_LIST,
                       "pageSize": {"type": "integer", "minimum": 1},
                       "pageToken": STRING},
    }, takes_request=True),
    "organizations/documents/add": Endpoint(add_documents, {
        "type": "object",
        "required": ["organizationId", "documents"],
        "properties": {"organizationId": STRING, "documents": DOCUMENTS_ARRAY,
                       "folderId": STRING, "createOrganization": BOOLEAN,
                       "createFolder": BOOLEAN},
    }, partial_failure="Error adding document(s)."),
    "organizations/documents/update": Endpoint(update_documents, {
        "type": "object",
        "required": ["organizationId", "documents"],
        "properties": {"organizationId": STRING, "documents": DOCUMENTS_ARRAY},
    }, partial_failure="Error updating document(s)."),
    "organizations/documents/delete": Endpoint(delete_documents, {
        "type": "object",
        "required": ["organizationId", "documentIds"],
        "properties": {"organizationId": STRING, "documentIds": DOCUMENT_IDS},
    }, partial_failure="Error deleting document(s)."),
    "organizations/documents/access/update": Endpoint(update_documents_access, {
        "type": "object",
        "required": ["organizationId", "documentIds", "accessType"],
        "properties": {"organizationId": STRING, "documentIds": DOCUMENT_IDS,
                       "accessType": ACCESS_TYPE},
    }),
    "organizations/documents/access/disablestate/update": Endpoint(update_documents_disabled, {
        "type": "object",
        "required": ["organizationId", "documentIds", "disabled"],
        "properties": {"organizationId": STRING, "documentIds": DOCUMENT_IDS,
                       "disabled": BOOLEAN},
    }),
    # The 30-id limit is checked by the handler, with Velt's wording.
    "organizations/documents/get": Endpoint(get_documents, {
        "type": "object",
        "required": ["organizationId"],
        "properties": dict(PAGE_FIELDS, organizationId=STRING, documentIds=STRING_LIST,
                           folderId=STRING),
    }, takes_request=True),
    # The 30-id limit is checked by the handler, with Velt's wording.
    "organizations/documents/move": Endpoint(move_documents, {
        "type": "object",
        "required": ["organizationId", "documentIds", "folderId"],
        "properties": {"organizationId": STRING, "documentIds": DOCUMENT_IDS,
                       "folderId": STRING},
    }),
    "organizations/folders/add": Endpoint(add_folders, {
        "type": "object",
        "required": ["organizationId", "folders"],
        "properties": {"organizationId": STRING, "createOrganization": BOOLEAN,
                       "folders": FOLDERS_ARRAY},
    }),
    "organizations/folders/update": Endpoint(update_folders, {
        "type": "object",
        "required": ["organizationId", "folders"],
        "properties": {"organizationId": STRING, "folders": FOLDERS_ARRAY},
    }),
    "organizations/folders/get": Endpoint(get_folders, {
        "type": "object",
        "required": ["organizationId"],
        "properties": {"organizationId": STRING, "folderId": STRING,
                       "maxDepth": {"type": "integer", "minimum": 1}},
    }, takes_request=True),
    "organizations/folders/delete": Endpoint(delete_folder, {
        "type": "object",
        "required": ["organizationId", "folderId"],
        "properties": {"organizationId": STRING, "folderId": STRING},
    }, versions=("v2",)),
    # "exactly one of accessType / inheritFromParent: true" is checked by the handler.
    "organizations/folders/access/update": Endpoint(update_folders_access, {
        "type": "object",
        "required": ["organizationId", "folderIds"],
        "properties": {"organizationId": STRING, "folderIds": dict(STRING_LIST, minItems=1),
                       "accessType": ACCESS_TYPE, "inheritFromParent": BOOLEAN},
    }),
    # apiKey/authToken are checked (before the schema) with Velt's wording, not required here.
    "auth/token/get": Endpoint(get_token_v1, {
        "type": "object",
        "required": ["userId"],
        "properties": {
            "apiKey": STRING, "authToken": STRING, "userId": STRING,
            "userProperties": {"type": "object", "required": ["organizationId"],
                               "properties": {"organizationId": STRING, "isAdmin": BOOLEAN,
                                              "email": STRING}},
        },
    }, versions=("v1",), body_credentials=True),
    "auth/generate_token": Endpoint(generate_token, {
        "type": "object",
        "required": ["userId", "userProperties", "permissions"],
        "properties": {
            "userId": STRING,
            "userProperties": {"type": "object", "required": ["name", "email"],
                               "properties": {"isAdmin": BOOLEAN, "name": STRING,
                                              "email": STRING}},
            "permissions": permissions_schema(RESOURCE),
        },
    }, versions=("v2",), spec_wrapped=True),
    "auth/permissions/add": Endpoint(add_permissions, {
        "type": "object",
        "required": ["user", "permissions"],
        "properties": {"user": {"type": "object", "required": ["userId"],
                                "properties": {"userId": STRING}},
                       "permissions": permissions_schema(RESOURCE)},
    }, versions=("v2",)),
    "auth/permissions/get": Endpoint(get_permissions, {
        "type": "object",
        "required": ["organizationId", "userIds"],
        "properties": {"organizationId": STRING, "userIds": dict(STRING_LIST, minItems=1),
                       "folderIds": STRING_LIST, "documentIds": STRING_LIST},
    }, versions=("v2",)),
    "auth/permissions/remove": Endpoint(remove_permissions, {
        "type": "object",
        "required": ["userId", "permissions"],
        "properties": {"userId": STRING, "permissions": permissions_schema(RESOURCE_TO_REMOVE)},
    }, versions=("v2",)),
    "users/data/get": Endpoint(get_user_data, {
        "type": "object",
        "required": ["organizationId", "userId"],
        "properties": {"organizationId": STRING, "userId": STRING, "pageToken": STRING},
    }, takes_request=True, error_code=500),
    "users/data/delete": Endpoint(delete_user_data, {
        "type": "object",
        "required": ["userIds"],
        "properties": {"userIds": dict(STRING_LIST, minItems=1),
                       "organizationIds": STRING_LIST},
    }),
    "users/data/delete/status": Endpoint(get_user_data_deletion_status, {
        "type": "object",
        "required": ["jobId"],
        "properties": {"jobId": STRING},
    }, error_code=500),
}


# --------------------------------------------------------------------------------------------
# Request body validation
# --------------------------------------------------------------------------------------------

ValidatorClass = getattr(jsonschema, "Draft202012Validator", jsonschema.Draft7Validator)


def json_path(path):
    rendered = "$"
    for part in path:
        if isinstance(part, int):
            rendered += "[%d]" % part
        elif part.isidentifier():
            rendered += "." + part
        else:
            rendered += "[%s]" % json.dumps(part)
    return rendered


def check_schema(validator, body):
    error = best_match(validator.iter_errors(body))
    if error is not None:
        raise invalid("Invalid request body at %s: %s"
                      % (json_path(error.absolute_path), error.message))


class OpenAPIError(Exception):
    """The OpenAPI extract cannot be used; the stand-in then refuses to start."""


def load_openapi(path):
    """The parsed extract (see extract_openapi.py); raises OpenAPIError when it is unusable."""
    try:
        with open(path, "r", encoding="utf-8") as stream:
            extract = json.load(stream)
    except OSError as error:
        raise OpenAPIError("cannot read the OpenAPI extract %s: %s"
                           % (path, error.strerror or error))
    except ValueError as error:   # bad JSON or bad UTF-8
        raise OpenAPIError("the OpenAPI extract %s is not valid JSON: %s" % (path, error))
    requests = extract.get("requests") if isinstance(extract, dict) else None
    if not isinstance(requests, dict) or not requests:
        raise OpenAPIError("the OpenAPI extract %s has no request schemas" % path)
    if not isinstance(extract.get("components"), dict):
        raise OpenAPIError("the OpenAPI extract %s has no components" % path)
    return extract


def spec_request_schema(extract, endpoint_name, wrapped=False):
    """The requestBody JSON schema of POST /<endpoint_name> in the extract, or None.

    wrapped: the spec's schema describes the inside of "data" (Endpoint.spec_wrapped).
    """
    schema = extract["requests"].get("/" + endpoint_name)
    if not isinstance(schema, dict):
        return None
    if wrapped:
        schema = {"type": "object", "required": ["data"], "properties": {"data": schema}}
    # Make the operation's schema the root document and hang the extract's components under
    # it, so "$ref: '#/components/...'" resolves (cycles included) without rewriting anything.
    return dict(schema, components=extract["components"])


class BodyValidator:
    """All checks of one endpoint's body, compiled once at start."""

    def __init__(self, spec_schema, data_schema):
        self.spec = ValidatorClass(spec_schema) if spec_schema is not None else None
        self.builtin = ValidatorClass({"type": "object", "required": ["data"],
                                       "properties": {"data": data_schema}})

    def validate(self, body, spec_passed=None):
        """Raise ApiError at the first failed check; call spec_passed() when the spec passes."""
        if self.spec is not None:
            check_schema(self.spec, body)
            if spec_passed is not None:
                spec_passed()
        check_schema(self.builtin, body)


def build_validators(extract):
    """Endpoint name -> BodyValidator; extract None (--no-openapi): hand-written checks only.

    Raises OpenAPIError when a schema of the extract is not a valid JSON schema, or when no
    endpoint of ENDPOINTS has a schema in it (the contract check would then never run).
    """
    validators = {}
    for name, endpoint in ENDPOINTS.items():
        schema = (spec_request_schema(extract, name, endpoint.spec_wrapped)
                  if extract is not None else None)
        if schema is not None:
            try:
                ValidatorClass.check_schema(schema)
            except SchemaError as error:
                raise OpenAPIError("the OpenAPI extract's schema for /%s is invalid: %s"
                                   % (name, (error.message.splitlines() or ["?"])[0]))
        validators[name] = BodyValidator(schema, endpoint.data_schema)
    if extract is not None and not any(v.spec is not None for v in validators.values()):
        raise OpenAPIError("no endpoint the stand-in serves has a schema in the OpenAPI extract")
    return validators


def parse_api_body(raw):
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise invalid("Request body is not valid JSON.")
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.")
    if not isinstance(body.get("data"), dict):
        raise invalid('Request body must be an object with a "data" object.')
    return body


def logged_body(raw):
    """The body as it goes into the request log: parsed JSON, else the raw text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------

FAULT_FIELDS = {
    "count": int, "path_contains": str, "body_contains": str, "status": int, "error_status": str, "message": str,
    "retry_after": (str, int), "body": str, "content_type": str, "delay_ms": (int, float),
    "drop": bool, "truncate": bool, "body_bytes": int, "pad_bytes": int, "stall_ms": (int, float),
}

# Placeholder of the padding that pad_bytes splices into a normal answer.
PADDING_MARK = "@@velt-standin-padding@@"


class FaultError(ValueError):
    pass


# Control settings (POST /_standin/config); reset restores these.
DEFAULT_CONFIG = {"max_page_size": None}


class ConfigError(ValueError):
    pass


def parse_config(raw):
    """The settings to change, validated; raises ConfigError."""
    try:
        changes = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise ConfigError("config body is not valid JSON")
    if not isinstance(changes, dict):
        raise ConfigError("config body must be a JSON object")
    for key, value in changes.items():
        if key not in DEFAULT_CONFIG:
            raise ConfigError("unknown config field: %s" % key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            raise ConfigError("max_page_size must be a positive integer or null")
    return changes


def parse_fault(raw):
    """Validated fault dict with count filled in; raises FaultError."""
    try:
        fault = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise FaultError("fault body is not valid JSON")
    if not isinstance(fault, dict):
        raise FaultError("fault body must be a JSON object")
    for key, value in fault.items():
        expected = FAULT_FIELDS.get(key)
        if expected is None:
            raise FaultError("unknown fault field: %s" % key)
        # bool is an int in Python; only the boolean fields may be booleans.
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise FaultError("fault field %s has the wrong type" % key)
    if not (fault_answers(fault) or fault.get("delay_ms") or fault.get("pad_bytes")):
        raise FaultError("a fault needs one of: status, body, body_bytes, delay_ms > 0, "
                         "pad_bytes > 0, drop, truncate")
    fault.setdefault("count", 1)
    if fault["count"] < 1:
        raise FaultError("count must be at least 1")
    if "status" in fault and not 100 <= fault["status"] <= 599:
        raise FaultError("status must be an HTTP status (100-599)")
    if fault.get("delay_ms", 0) < 0:
        raise FaultError("delay_ms must not be negative")
    if fault.get("drop") and fault.get("truncate"):
        raise FaultError("drop and truncate exclude each other")
    if fault.get("body_bytes", 0) < 0 or fault.get("pad_bytes", 0) < 0:
        raise FaultError("body_bytes and pad_bytes must not be negative")
    if "pad_bytes" in fault and fault_answers(fault):
        raise FaultError("pad_bytes pads the normal answer; it excludes status, body, "
                         "body_bytes, drop and truncate")
    if "stall_ms" in fault:
        if not fault.get("truncate"):
            raise FaultError("stall_ms needs truncate")
        if fault["stall_ms"] <= 0:
            raise FaultError("stall_ms must be positive")
    if "retry_after" in fault:
        fault["retry_after"] = str(fault["retry_after"])
    return fault


def fault_answers(fault):
    """Whether the fault replaces the normal answer (a pure delay does not)."""
    return ("status" in fault or "body" in fault or "body_bytes" in fault or fault.get("drop")
            or fault.get("truncate"))


def padded_body(payload, size):
    """The compact JSON of a normal answer, padded to size bytes by a "padding" member of
    `result` (or of the top level, for an answer without a `result` object)."""
    padded = dict(payload)
    if isinstance(padded.get("result"), dict):
        padded["result"] = dict(padded["result"], padding=PADDING_MARK)
    else:
        padded["padding"] = PADDING_MARK
    body = compact_json(padded).encode("utf-8")
    filler = max(size - (len(body) - len(PADDING_MARK)), 0)
    return body.replace(PADDING_MARK.encode("ascii"), b"x" * filler, 1)


def fault_response(fault):
    """(HTTP status, body bytes, content type) of a fault that replaces the answer."""
    if "body" in fault:
        return (fault.get("status", 200), fault["body"].encode("utf-8"),
                fault.get("content_type", "application/json"))
    if "body_bytes" in fault:
        # a large but valid success envelope: an empty result map padded to the size
        head, tail = b'{"result":{"status":"success","data":{},"padding":"', b'"}}'
        filler = max(fault["body_bytes"] - len(head) - len(tail), 0)
        return fault.get("status", 200), head + b"x" * filler + tail, "application/json"
    if "status" in fault:
        status = fault["status"]
        envelope = {"error": {
            "message": fault.get("message", "Injected fault (HTTP %d)." % status),
            "status": fault.get("error_status", grpc_status_for_http(status))}}
        return status, compact_json(envelope).encode("utf-8"), "application/json; charset=utf-8"
    # truncate alone: cut a plausible success envelope (the request changes no state).
    envelope = {"result": {"status": "success", "message": "Truncated by the stand-in.",
                           "data": {}}}
    return 200, compact_json(envelope).encode("utf-8"), "application/json; charset=utf-8"


# --------------------------------------------------------------------------------------------
# The stand-in: state, request log, faults and connection numbering behind one lock.
# --------------------------------------------------------------------------------------------

class StandIn:
    def __init__(self, api_key, auth_token, validators):
        self.api_key = api_key
        self.auth_token = auth_token
        self.validators = validators
        # Endpoints whose bodies are checked against the OpenAPI extract (0 with --no-openapi).
        self.openapi_schemas = sum(1 for validator in validators.values()
                                   if validator.spec is not None)
        self.lock = threading.Lock()
        self.next_socket_id = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.state = VeltState()
            self.log = []
            self.faults = []          # [{"fault": dict, "remaining": n}] in FIFO order
            # socket id -> connection number, assigned at a socket's first API request since
            # reset, so control traffic (curl to /_standin/) never counts as a connection.
            self.connection_numbers = {}
            self.config = dict(DEFAULT_CONFIG)
            self.openapi_validated = 0   # bodies that passed the OpenAPI schema since reset

    def open_socket(self):
        with self.lock:
            self.next_socket_id += 1
            return self.next_socket_id

    # ---- request log and faults -------------------------------------------------------------

    def begin_api_request(self, arrived, method, path, auth, raw_body, socket_id):
        """Log an API request on arrival and take the fault that applies to it, if any."""
        body = logged_body(raw_body)
        if body_credentials_route(urlsplit(path).path):
            body = redact_credentials(body)   # the log never holds credentials
        with self.lock:
            conn = self.connection_numbers.get(socket_id)
            if conn is None:
                conn = self.connection_numbers[socket_id] = len(self.connection_numbers) + 1
            fault = self._take_fault(urlsplit(path).path,
                                     raw_body.decode("utf-8", errors="replace"))
            entry = {"seq": len(self.log) + 1, "time": arrived, "method": method, "path": path,
                     "auth": auth, "body": body, "status": None, "fault": fault, "conn": conn,
                     "error": None}
            self.log.append(entry)
        return entry, fault

    def _take_fault(self, route, body_text):
        for index, pending in enumerate(self.faults):
            if (pending["fault"].get("path_contains", "") in route
                    and pending["fault"].get("body_contains", "") in body_text):
                pending["remaining"] -= 1
                if pending["remaining"] == 0:
                    del self.faults[index]
                return pending["fault"]
        return None

    def finish_api_request(self, entry, status, payload):
        with self.lock:
            entry["status"] = status
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                entry["error"] = payload["error"]

    def set_config(self, changes):
        with self.lock:
            self.config.update(changes)

    def queue_fault(self, fault):
        with self.lock:
            self.faults.append({"fault": fault, "remaining": fault["count"]})
            return len(self.faults)

    # ---- Velt API ---------------------------------------------------------------------------

    def auth_of(self, headers, route=None, raw_body=b""):
        """"ok", "missing" or "wrong" for the request log; from the body for v1 auth/token/get."""
        if body_credentials_route(route):
            data = logged_body(raw_body)
            data = data.get("data") if isinstance(data, dict) else None
            data = data if isinstance(data, dict) else {}
            api_key, auth_token = data.get("apiKey"), data.get("authToken")
            if not isinstance(api_key, str) or not isinstance(auth_token, str):
                api_key = auth_token = None
        else:
            api_key = headers.get("x-velt-api-key")
            auth_token = headers.get("x-velt-auth-token")
        if not api_key or not auth_token:
            return "missing"
        if api_key != self.api_key or auth_token != self.auth_token:
            return "wrong"
        return "ok"

    def handle_api(self, method, route, headers, raw_body):
        """Answer one Velt API request: (HTTP status, payload, extra headers)."""
        endpoint = None
        authenticated = False   # from here on, the endpoint's error_code applies
        try:
            version, endpoint_name = velt_route(route)
            endpoint = served_endpoint(version, endpoint_name)
            if endpoint is None:
                raise ApiError("NOT_FOUND", "Not found: %s" % route)
            if method != "POST":
                raise ApiError("INVALID_ARGUMENT", "Method %s not allowed; use POST." % method,
                               http_status=405, headers=[("Allow", "POST")])
            if not endpoint.body_credentials:
                check_auth(headers, self.api_key, self.auth_token)
            authenticated = True
            body = parse_api_body(raw_body)
            if endpoint.body_credentials:
                check_body_credentials(body["data"], self.api_key, self.auth_token)
            self.validators[endpoint_name].validate(body, self._count_spec_pass)
            with self.lock:
                if endpoint.takes_request:
                    request = RequestContext(version, self.config["max_page_size"], self.api_key)
                    answer = endpoint.handler(self.state, body["data"], request)
                else:
                    answer = endpoint.handler(self.state, body["data"])
            if isinstance(answer, RawAnswer):
                return answer.status, answer.payload, ()
            message, results = answer[:2]
            if (endpoint.partial_failure is not None and version == "v2"
                    and any(not item["success"] for item in results.values())):
                # v2 documents writes: one failed item fails the call; the successes in
                # it stay applied (REFERENCE 2.11, 2.13, 2.14).
                raise ApiError("INTERNAL", endpoint.partial_failure, details=results)
            payload = {"result": {"status": "success", "message": message}}
            if results is not NO_DATA:
                payload["result"]["data"] = results
            if len(answer) > 2:
                payload["result"].update(answer[2])
            return 200, payload, ()
        except ApiError as error:
            envelope = error.envelope()
            if authenticated and endpoint.error_code is not None and error.body is None:
                envelope["error"]["code"] = endpoint.error_code
            return error.http_status, envelope, error.headers

    def _count_spec_pass(self):
        """Count one request body that passed its endpoint's OpenAPI schema."""
        with self.lock:
            self.openapi_validated += 1

    # ---- control API ------------------------------------------------------------------------

    def requests_answer(self):
        with self.lock:
            return {"requests": copy.deepcopy(self.log)}

    def stats_answer(self):
        with self.lock:
            return {"requests": len(self.log), "connections": len(self.connection_numbers),
                    "openapi_schemas": self.openapi_schemas,
                    "openapi_validated": self.openapi_validated}

    def state_answer(self):
        with self.lock:
            return self.state.snapshot()


def velt_route(route):
    """"/v2/users/add" -> ("v2", "users/add"); (None, None) when not under a known version."""
    parts = route.split("/", 2)
    if len(parts) == 3 and parts[0] == "" and parts[1] in API_VERSIONS:
        return parts[1], parts[2]
    return None, None


def served_endpoint(version, endpoint_name):
    """The Endpoint serving endpoint_name under version, or None (then the path is 404)."""
    endpoint = ENDPOINTS.get(endpoint_name)
    if endpoint is None or version not in endpoint.versions:
        return None
    return endpoint


def body_credentials_route(route):
    """Whether route (a path without query) is served by a body-credentials endpoint."""
    if route is None:
        return False
    endpoint = served_endpoint(*velt_route(route))
    return endpoint is not None and endpoint.body_credentials


def check_body_credentials(data, api_key, auth_token):
    # v1 auth/token/get: the only documented failure is this one (REFERENCE 2.47); a missing
    # or wrong apiKey answers it too (ASSUMPTION A28).
    if data.get("apiKey") != api_key or data.get("authToken") != auth_token:
        raise invalid("Auth token not found.")


REDACTED = "[redacted]"


def redact_credentials(body):
    """The logged body of a body-credentials request, with apiKey/authToken values hidden."""
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        for key in ("apiKey", "authToken"):
            if key in data:
                data[key] = REDACTED
    return body


def check_auth(headers, api_key, auth_token):
    # ASSUMPTION (REFERENCE 4.2, part 5 question 2): the core endpoints' auth errors are
    # undocumented; these follow the workflow/memory families.
    if not headers.get("x-velt-api-key"):
        raise invalid("API key not found in headers.")
    if not headers.get("x-velt-auth-token"):
        raise invalid("Auth token not found in headers.")
    if headers.get("x-velt-api-key") != api_key or headers.get("x-velt-auth-token") != auth_token:
        raise ApiError("PERMISSION_DENIED", "Invalid API key or auth token.")


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

class BadRequestBody(Exception):
    pass


class StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, standin, verbose):
        self.standin = standin
        self.verbose = verbose
        self.stop_requested = threading.Event()
        super().__init__(address, StandInRequestHandler)

    def handle_error(self, request, client_address):
        # a client that rejects our test certificate, or hangs up, is expected
        # in TLS and fault tests: not worth a traceback
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            return
        super().handle_error(request, client_address)


class StandInRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: every answer carries Content-Length
    server_version = "VeltStandIn/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 300                   # idle keep-alive connections are closed after this

    def setup(self):
        super().setup()
        self.socket_id = self.server.standin.open_socket()

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # noqa: A002 (signature of the base class)
        if self.server.verbose:
            super().log_message(format, *args)

    def do_POST(self):
        self.dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    # ---- plumbing ---------------------------------------------------------------------------

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked_body()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            raise BadRequestBody("invalid Content-Length")
        if length < 0 or length > MAX_BODY_BYTES:
            raise BadRequestBody("unacceptable Content-Length")
        return self.rfile.read(length)

    def read_chunked_body(self):
        chunks, total = [], 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequestBody("invalid chunk size")
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise BadRequestBody("body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # CRLF after the chunk

    def send(self, status, body, content_type, headers=(), close=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, payload, headers=(), close=False, control=False):
        if control:
            # One line of sorted compact JSON: tests read it line-wise via COPY FROM PROGRAM.
            body = (compact_json(payload, sort_keys=True) + "\n").encode("utf-8")
        else:
            body = compact_json(payload).encode("utf-8")
        self.send(status, body, "application/json; charset=utf-8", headers, close)

    # ---- dispatch ---------------------------------------------------------------------------

    def dispatch(self):
        arrived = time.time()
        route = urlsplit(self.path).path
        is_control = route.startswith(CONTROL_PREFIX)
        try:
            raw_body = self.read_body()
        except BadRequestBody as error:
            # The stream is out of step with the request; answer and drop the connection.
            payload = ({"ok": False, "error": str(error)} if is_control
                       else invalid("Bad request body: %s." % error).envelope())
            self.send_json(400, payload, close=True, control=is_control)
            return
        try:
            if is_control:
                self.handle_control(route, raw_body)
            else:
                self.handle_velt(route, raw_body, arrived)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a stand-in bug: say so loudly, keep serving
            traceback.print_exc()
            self.send_json(500, ApiError("INTERNAL", "Stand-in internal error.").envelope(),
                           close=True)

    def handle_velt(self, route, raw_body, arrived):
        standin = self.server.standin
        entry, fault = standin.begin_api_request(
            arrived, self.command, self.path, standin.auth_of(self.headers, route, raw_body),
            raw_body, self.socket_id)
        if fault is not None:
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            if fault_answers(fault):
                self.answer_with_fault(fault, entry)
                return
        status, payload, headers = standin.handle_api(self.command, route, self.headers,
                                                      raw_body)
        standin.finish_api_request(entry, status, payload)
        if fault is not None and fault.get("pad_bytes"):
            self.send(status, padded_body(payload, fault["pad_bytes"]),
                      "application/json; charset=utf-8", headers)
        else:
            self.send_json(status, payload, headers)
        if self.server.verbose and status != 200:
            self.log_message("%s", compact_json(payload))

    def answer_with_fault(self, fault, entry):
        standin = self.server.standin
        if fault.get("drop"):
            standin.finish_api_request(entry, 0, None)
            self.close_connection = True   # the request was read; close without a word
            return
        status, body, content_type = fault_response(fault)
        headers = [("Retry-After", fault["retry_after"])] if "retry_after" in fault else []
        payload = None
        if content_type.startswith("application/json"):
            payload = logged_body(body)
        standin.finish_api_request(entry, status, payload)
        if not fault.get("truncate"):
            self.send(status, body, content_type, headers)
            return
        # Announce the full length, send only half, then close: a truncated response.
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        if fault.get("stall_ms"):
            # an answer that never finishes: the connection stays open, silent
            time.sleep(fault["stall_ms"] / 1000.0)
        self.close_connection = True

    def handle_control(self, route, raw_body):
        action = CONTROL_ACTIONS.get(route[len(CONTROL_PREFIX):])
        if action is None:
            self.send_json(404, {"ok": False, "error": "unknown control path: " + route},
                           control=True)
            return
        methods, function = action
        if self.command not in methods:
            self.send_json(405, {"ok": False, "error": "use " + " or ".join(methods)},
                           headers=[("Allow", ", ".join(methods))], control=True)
            return
        status, payload = function(self.server, raw_body)
        self.send_json(status, payload, control=True)
        if route == CONTROL_PREFIX + "shutdown":
            self.close_connection = True
            self.server.stop_requested.set()


def control_reset(server, _raw_body):
    server.standin.reset()
    return 200, {"ok": True}


def control_fault(server, raw_body):
    try:
        fault = parse_fault(raw_body)
    except FaultError as error:
        return 400, {"ok": False, "error": str(error)}
    return 200, {"ok": True, "queued": server.standin.queue_fault(fault)}


def control_config(server, raw_body):
    try:
        changes = parse_config(raw_body)
    except ConfigError as error:
        return 400, {"ok": False, "error": str(error)}
    server.standin.set_config(changes)
    return 200, {"ok": True}


def control_shutdown(_server, _raw_body):
    return 200, {"ok": True}


# control path -> (allowed methods, function(server, raw_body) -> (status, payload))
CONTROL_ACTIONS = {
    "reset": (("POST",), control_reset),
    "fault": (("POST",), control_fault),
    "config": (("POST",), control_config),
    "shutdown": (("POST",), control_shutdown),
    "requests": (("GET", "POST"), lambda server, _body: (200, server.standin.requests_answer())),
    "stats": (("GET", "POST"), lambda server, _body: (200, server.standin.stats_answer())),
    "state": (("GET", "POST"), lambda server, _body: (200, server.standin.state_answer())),
}


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def write_port_file(path, port):
    """Write atomically, so a reader never sees a half-written number."""
    temporary = "%s.tmp.%d" % (path, os.getpid())
    with open(temporary, "w", encoding="ascii") as stream:
        stream.write("%d\n" % port)
    os.replace(temporary, path)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Velt REST API stand-in for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="where to write the chosen port")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--auth-token", required=True)
    contract = parser.add_mutually_exclusive_group()
    contract.add_argument("--openapi", default=DEFAULT_OPENAPI, metavar="PATH",
                          help="the request schemas of Velt's OpenAPI spec, as written by "
                          "extract_openapi.py (default: %(default)s); the stand-in exits "
                          "with status 2 if it cannot use them")
    contract.add_argument("--no-openapi", action="store_true",
                          help="skip the OpenAPI check; only the hand-written checks apply")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        extract = None if arguments.no_openapi else load_openapi(arguments.openapi)
        validators = build_validators(extract)
    except OpenAPIError as error:
        print("velt_standin: error: %s (regenerate the extract with /usr/bin/python3 "
              "test/standin/extract_openapi.py, or pass --no-openapi)" % error, file=sys.stderr)
        return 2
    standin = StandIn(arguments.api_key, arguments.auth_token, validators)
    server = StandInHTTPServer((arguments.host, arguments.port), standin, arguments.verbose)
    if arguments.tls_cert:
        # HTTPS for TLS tests; the handshake runs in the handler thread, so a
        # client that rejects the certificate cannot stall the accept loop
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(arguments.tls_cert, arguments.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)

    # Signal handlers only raise a flag: setting an Event from a handler could deadlock on
    # the Event's own lock if the signal lands while the main thread holds it.
    signalled = []
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda signum, _frame: signalled.append(signum))

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                               name="standin-serve", daemon=True)
    serving.start()
    port = server.server_address[1]
    if arguments.port_file:
        write_port_file(arguments.port_file, port)
    print(port, flush=True)

    while not signalled and not server.stop_requested.wait(0.1):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
