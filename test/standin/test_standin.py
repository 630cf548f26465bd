#!/usr/bin/python3
"""Self-test of the Velt stand-in server (velt_standin.py).

Starts the server as a subprocess on a free port and talks to it over HTTP.  Every socket has a
timeout, so a hung server fails the test instead of hanging it.

Run from the repository root with Debian's Python:
    /usr/bin/python3 test/standin/test_standin.py -v
    /usr/bin/python3 -m unittest discover -s test/standin -v
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "velt_standin.py")
OPENAPI_EXTRACT = os.path.join(HERE, "openapi_requests.json")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

API_KEY = "test-api-key-0123"
AUTH_TOKEN = "test-auth-token-4567"
AUTH = {"x-velt-api-key": API_KEY, "x-velt-auth-token": AUTH_TOKEN,
        "Content-Type": "application/json"}
START_TIMEOUT = 10.0
SOCKET_TIMEOUT = 5.0
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def endpoints_in_extract():
    """How many endpoints of the stand-in's ENDPOINTS table have a schema in the extract."""
    sys.path.insert(0, HERE)
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True   # no __pycache__ here
    try:
        import velt_standin  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(HERE)
        sys.dont_write_bytecode = saved
    with open(OPENAPI_EXTRACT, encoding="utf-8") as stream:
        paths = json.load(stream)["requests"]
    return sum(1 for name in velt_standin.ENDPOINTS if "/" + name in paths)


OPENAPI_SCHEMAS = endpoints_in_extract()


def stats(requests, connections, validated):
    """The answer of GET /_standin/stats on a stand-in that loaded the default extract."""
    return {"requests": requests, "connections": connections,
            "openapi_schemas": OPENAPI_SCHEMAS, "openapi_validated": validated}


class StandInProcess:
    """One stand-in server subprocess; output goes to files so a pipe can never fill up."""

    def __init__(self, *extra_args):
        self.directory = tempfile.mkdtemp(prefix="velt-standin-test-")
        self.port_file = os.path.join(self.directory, "port")
        self.stdout_path = os.path.join(self.directory, "stdout")
        self.stderr_path = os.path.join(self.directory, "stderr")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [PYTHON, SERVER, "--port", "0", "--port-file", self.port_file,
                 "--api-key", API_KEY, "--auth-token", AUTH_TOKEN] + list(extra_args),
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file, encoding="ascii") as stream:
                    return int(stream.read())
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("stand-in did not start: " + self.stderr())

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as stream:
            return stream.read()

    def stdout(self):
        with open(self.stdout_path, encoding="utf-8", errors="replace") as stream:
            return stream.read()

    def wait(self, timeout=5.0):
        return self.process.wait(timeout=timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


class StandInClient:
    def __init__(self, port):
        self.port = port

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=SOCKET_TIMEOUT)

    def raw(self, method, path, body=None, headers=None, connection=None):
        """(status, headers, body bytes); uses (and keeps open) connection when given."""
        own = connection is None
        connection = connection or self.connection()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response, response.read()
        finally:
            if own:
                connection.close()

    def api(self, path, data, headers=AUTH, connection=None):
        """POST {"data": data} to a Velt path: (status, parsed JSON)."""
        status, _response, body = self.raw("POST", path, {"data": data}, headers, connection)
        return status, json.loads(body)

    def control(self, method, name, body=None):
        status, _response, raw = self.raw(method, "/_standin/" + name, body)
        text = raw.decode("utf-8")
        # Control answers are one line: tests read them with COPY ... FROM PROGRAM 'curl ...'.
        assert text.endswith("\n") and text.count("\n") == 1, text
        return status, json.loads(text)

    def requests(self):
        return self.control("GET", "requests")[1]["requests"]

    def state(self):
        return self.control("GET", "state")[1]["organizations"]

    def details(self):
        return self.control("GET", "state")[1]["organizationDetails"]

    def config(self, **fields):
        status, answer = self.control("POST", "config", fields)
        assert (status, answer) == (200, {"ok": True}), answer

    def fault(self, **fields):
        status, answer = self.control("POST", "fault", fields)
        assert status == 200, answer
        return answer


def user(user_id, **fields):
    record = {"userId": user_id, "name": "Name " + user_id, "email": user_id + "@example.com"}
    record.update(fields)
    return record


class StandInTestCase(unittest.TestCase):
    """Shares one server per class; every test starts from a reset."""

    @classmethod
    def setUpClass(cls):
        cls.server = StandInProcess()
        cls.client = StandInClient(cls.server.port)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.assertEqual(self.client.control("POST", "reset"), (200, {"ok": True}))

    def add_users(self, org, users, version="v2", **scope):
        data = dict(organizationId=org, users=users, **scope)
        return self.client.api("/%s/users/add" % version, data)

    def add_group(self, org, group_id, name=None):
        group = {"groupId": group_id}
        if name is not None:
            group["groupName"] = name
        return self.client.api("/v2/organizations/usergroups/add",
                               {"organizationId": org, "organizationUserGroups": [group]})

    def assert_invalid(self, answer, status=400, grpc="INVALID_ARGUMENT", contains=""):
        self.assertEqual(answer[0], status, answer)
        self.assertEqual(set(answer[1]), {"error"})
        self.assertEqual(answer[1]["error"]["status"], grpc)
        self.assertIn(contains, answer[1]["error"]["message"])


class AuthAndRoutingTest(StandInTestCase):

    def test_missing_api_key(self):
        headers = {"x-velt-auth-token": AUTH_TOKEN}
        answer = self.client.api("/v2/users/add", {}, headers=headers)
        self.assertEqual(answer, (400, {"error": {"message": "API key not found in headers.",
                                                  "status": "INVALID_ARGUMENT"}}))
        self.assertEqual(self.client.requests()[0]["auth"], "missing")

    def test_missing_auth_token(self):
        headers = {"x-velt-api-key": API_KEY}
        answer = self.client.api("/v1/users/add", {}, headers=headers)
        self.assertEqual(answer, (400, {"error": {"message": "Auth token not found in headers.",
                                                  "status": "INVALID_ARGUMENT"}}))

    def test_wrong_credentials_and_no_secrets_in_log(self):
        for headers in ({"x-velt-api-key": API_KEY, "x-velt-auth-token": "nope"},
                        {"x-velt-api-key": "nope", "x-velt-auth-token": AUTH_TOKEN}):
            answer = self.client.api("/v2/users/add", {"organizationId": "o", "users": []},
                                     headers=headers)
            self.assertEqual(answer, (403, {"error": {"message": "Invalid API key or auth token.",
                                                      "status": "PERMISSION_DENIED"}}))
        self.assertEqual(self.add_users("o", [user("u")])[0], 200)
        log = self.client.requests()
        self.assertEqual([entry["auth"] for entry in log], ["wrong", "wrong", "ok"])
        text = json.dumps(log)
        self.assertNotIn(API_KEY, text)
        self.assertNotIn(AUTH_TOKEN, text)
        self.assertEqual(self.client.state(), {"o": self.client.state()["o"]})

    def test_unknown_path(self):
        answer = self.client.api("/v2/users/nope", {}, headers=AUTH)
        self.assertEqual(answer, (404, {"error": {"message": "Not found: /v2/users/nope",
                                                  "status": "NOT_FOUND"}}))
        self.assertEqual(self.client.api("/v3/users/add", {})[0], 404)
        self.assertEqual(self.client.requests()[0]["status"], 404)

    def test_non_post(self):
        status, response, body = self.client.raw("GET", "/v2/users/add", headers=AUTH)
        self.assertEqual(status, 405)
        self.assertEqual(response.getheader("Allow"), "POST")
        self.assertEqual(json.loads(body)["error"]["status"], "INVALID_ARGUMENT")

    def test_unknown_control_path_and_method(self):
        self.assertEqual(self.client.control("GET", "nothing")[0], 404)
        self.assertEqual(self.client.control("GET", "reset")[0], 405)


class BodyValidationTest(StandInTestCase):

    def post_raw(self, body):
        status, _response, raw = self.client.raw("POST", "/v2/users/add", body, AUTH)
        return status, json.loads(raw)

    def test_body_not_json(self):
        self.assert_invalid(self.post_raw("{not json"), contains="not valid JSON")
        self.assertEqual(self.client.requests()[0]["body"], "{not json")

    def test_body_without_data_object(self):
        self.assert_invalid(self.post_raw([1]), contains="JSON object")
        self.assert_invalid(self.post_raw({"organizationId": "o", "users": []}),
                            contains='"data" object')
        self.assert_invalid(self.post_raw({"data": []}), contains='"data" object')

    def test_spec_requires_user_email(self):
        for version in ("v2", "v1"):
            answer = self.add_users("o", [{"userId": "u", "name": "N"}], version=version)
            self.assert_invalid(answer, contains="$.data.users[0]")
            self.assertIn("'email' is a required property", answer[1]["error"]["message"])
        log = self.client.requests()
        self.assertEqual([entry["status"] for entry in log], [400, 400])
        self.assertIn("email", log[0]["error"]["message"])
        self.assertEqual(self.client.state(), {})

    def test_spec_types_and_enums(self):
        self.assert_invalid(self.client.api("/v2/users/add", {"organizationId": 7, "users": []}),
                            contains="$.data.organizationId")
        self.assert_invalid(self.add_users("o", [user("u", accessRole="owner")]),
                            contains="$.data.users[0].accessRole")
        self.assert_invalid(self.client.api("/v2/users/delete", {"organizationId": "o"}),
                            contains="'userIds' is a required property")

    def test_hand_written_group_membership_schema(self):
        path = "/v2/organizations/usergroups/users/add"
        self.assert_invalid(self.client.api(path, {"organizationId": "o", "userIds": ["u"]}),
                            contains="organizationUserGroupId")
        self.assert_invalid(self.client.api(path, {"organizationId": "o",
                                                   "organizationUserGroupId": "g",
                                                   "userIds": [1]}),
                            contains="$.data.userIds[0]")
        self.assert_invalid(self.client.api(path, {"organizationId": "o",
                                                   "organizationUserGroupId": "g",
                                                   "userIds": []}),
                            contains="$.data.userIds")

    def test_delete_from_group_needs_exactly_one_of_user_ids_or_delete_all(self):
        path = "/v1/organizations/usergroups/users/delete"
        base = {"organizationId": "o", "organizationUserGroupId": "g"}
        self.assert_invalid(self.client.api(path, dict(base, userIds=["u"], deleteAll=True)),
                            contains="not both")
        self.assert_invalid(self.client.api(path, base), contains="deleteAll")
        self.assert_invalid(self.client.api(path, dict(base, userIds=[], deleteAll=False)),
                            contains="deleteAll")
        self.assert_invalid(self.client.api(path, dict(base, deleteAll="yes")),
                            contains="$.data.deleteAll")

    def test_group_needs_group_id(self):
        answer = self.client.api("/v2/organizations/usergroups/add",
                                 {"organizationId": "o", "organizationUserGroups": [{}]})
        self.assert_invalid(answer, contains="'groupId' is a required property")

    def test_chunked_body(self):
        connection = self.client.connection()
        try:
            body = json.dumps({"data": {"organizationId": "o", "users": [user("u")]}}).encode()
            connection.request("POST", "/v2/users/add", body=iter([body[:10], body[10:]]),
                               headers=AUTH, encode_chunked=True)
            response = connection.getresponse()
            self.assertEqual(response.status, 200, response.read())
        finally:
            connection.close()
        self.assertIn("u", self.client.state()["o"]["users"])

    def test_expect_100_continue(self):
        # libcurl sends "Expect: 100-continue" before bodies over 1 kB.
        body = json.dumps({"data": {"organizationId": "o", "users": [user("u")]}}).encode()
        with socket.create_connection(("127.0.0.1", self.client.port),
                                      timeout=SOCKET_TIMEOUT) as sock:
            head = ("POST /v2/users/add HTTP/1.1\r\nHost: x\r\nx-velt-api-key: %s\r\n"
                    "x-velt-auth-token: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                    % (API_KEY, AUTH_TOKEN, len(body)))
            sock.sendall(head.encode())
            self.assertTrue(sock.recv(100).startswith(b"HTTP/1.1 100"))
            sock.sendall(body)
            self.assertTrue(sock.recv(100).startswith(b"HTTP/1.1 200"))


class UsersTest(StandInTestCase):

    def test_add_users_to_organization(self):
        status, answer = self.add_users("org", [user("u1"), user("u2", initial="ZZ",
                                                                   accessRole="viewer")])
        self.assertEqual(status, 200)
        result = answer["result"]
        self.assertEqual(result["status"], "success")
        self.assertEqual(result["message"], "User(s) processed successfully.")
        self.assertEqual(list(result["data"]), ["u1", "u2"])
        item = result["data"]["u1"]
        self.assertEqual(set(item), {"success", "id", "message"})
        self.assertTrue(item["success"])
        self.assertRegex(item["id"], HEX32)
        self.assertEqual(item["message"], "User added.")
        users = self.client.state()["org"]["users"]
        self.assertEqual(users["u1"], dict(user("u1"), initial="N", accessRole="editor"))
        self.assertEqual(users["u2"]["initial"], "ZZ")
        self.assertEqual(users["u2"]["accessRole"], "viewer")

    def test_add_users_upserts_with_stable_id(self):
        first = self.add_users("org", [user("u1", accessRole="viewer")])[1]
        second = self.add_users("org", [user("u1", name="bob", email="b@example.com")])[1]
        self.assertEqual(first["result"]["data"]["u1"]["id"],
                         second["result"]["data"]["u1"]["id"])
        stored = self.client.state()["org"]["users"]["u1"]
        self.assertEqual(stored, {"userId": "u1", "name": "bob", "email": "b@example.com",
                                  "initial": "B", "accessRole": "editor"})

    def test_add_users_to_document_and_folder_only(self):
        self.assertEqual(self.add_users("org", [user("d")], documentId="doc",
                                        createDocument=True)[0], 200)
        folder_answer = self.add_users("org", [user("f")], folderId="fold")[1]
        org_answer = self.add_users("org", [user("f")])[1]
        self.assertNotEqual(folder_answer["result"]["data"]["f"]["id"],
                            org_answer["result"]["data"]["f"]["id"])
        org = self.client.state()["org"]
        self.assertEqual(list(org["users"]), ["f"])
        self.assertEqual(list(org["documents"]["doc"]["users"]), ["d"])
        self.assertEqual(list(org["folders"]["fold"]["users"]), ["f"])

    def test_document_and_folder_together_rejected(self):
        answer = self.add_users("org", [user("u")], documentId="d", folderId="f")
        self.assertEqual(answer, (400, {"error": {
            "message": "Provide either documentId or folderId, not both.",
            "status": "INVALID_ARGUMENT"}}))
        self.assertEqual(self.client.state(), {})

    def test_delete_users(self):
        self.add_users("org", [user("u1"), user("u2")])
        self.add_users("org", [user("u1")], documentId="doc")
        self.add_group("org", "g")
        self.client.api("/v2/organizations/usergroups/users/add",
                        {"organizationId": "org", "organizationUserGroupId": "g",
                         "userIds": ["u1", "u2"]})
        status, answer = self.client.api("/v2/users/delete",
                                         {"organizationId": "org", "userIds": ["u1", "ghost"]})
        self.assertEqual(status, 200)
        self.assertEqual(answer["result"], {
            "status": "success", "message": "User(s) deleted successfully.",
            "data": {"u1": {"success": True, "message": "User removed."},
                     "ghost": {"success": False, "message": "User does not exist."}}})
        org = self.client.state()["org"]
        self.assertEqual(list(org["users"]), ["u2"])
        self.assertEqual(org["groups"]["g"]["members"], ["u2"])
        self.assertEqual(list(org["documents"]["doc"]["users"]), ["u1"])  # other scope

    def test_delete_users_from_document_and_unknown_scopes(self):
        self.add_users("org", [user("u1")], documentId="doc")
        data = self.client.api("/v1/users/delete", {"organizationId": "org", "documentId": "doc",
                                                    "userIds": ["u1"]})[1]["result"]["data"]
        self.assertEqual(data, {"u1": {"success": True, "message": "User removed."}})
        missing = {"success": False, "message": "User does not exist."}
        for scope in ({"organizationId": "nope"}, {"organizationId": "org", "folderId": "x"},
                      {"organizationId": "org", "documentId": "other"}):
            answer = self.client.api("/v2/users/delete", dict(scope, userIds=["u1"]))
            self.assertEqual(answer[1]["result"]["data"], {"u1": missing}, scope)
        self.assertEqual(set(self.client.state()), {"org"})  # delete creates nothing

    def test_v1_and_v2_share_state(self):
        self.add_users("org", [user("u1")], version="v1")
        self.add_users("org", [user("u2")], version="v2")
        self.assertEqual(sorted(self.client.state()["org"]["users"]), ["u1", "u2"])


class GroupsTest(StandInTestCase):
    ADD = "/v2/organizations/usergroups/users/add"
    DELETE = "/v2/organizations/usergroups/users/delete"

    def membership(self, path, user_ids=None, group="g", org="org", **extra):
        data = dict(organizationId=org, organizationUserGroupId=group, **extra)
        if user_ids is not None:
            data["userIds"] = user_ids
        status, answer = self.client.api(path, data)
        self.assertEqual(status, 200, answer)
        return answer["result"]

    def test_add_groups_upserts(self):
        status, answer = self.add_group("org", "eng", "Engineering")
        self.assertEqual(status, 200)
        self.assertEqual(answer["result"]["message"],
                         "Organization User Groups added successfully.")
        item = answer["result"]["data"]["eng"]
        self.assertEqual((item["success"], item["message"]),
                         (True, "Organization user group added."))
        self.assertRegex(item["id"], HEX32)
        self.add_users("org", [user("u")])
        self.membership(self.ADD, ["u"], group="eng")
        again = self.add_group("org", "eng", "Eng")[1]["result"]["data"]["eng"]
        self.assertEqual(again["id"], item["id"])
        self.assertEqual(self.client.state()["org"]["groups"],
                         {"eng": {"groupName": "Eng", "members": ["u"]}})

    def test_add_users_to_group(self):
        self.add_users("org", [user("a"), user("b")])
        self.add_users("org", [user("docuser")], documentId="doc")
        self.add_group("org", "g")
        result = self.membership(self.ADD, ["b", "a", "docuser"])
        self.assertEqual(result["message"], "Added organization users to group successfully.")
        added = {"success": True, "organizationUserGroupId": "g",
                 "message": "User added to organization user group."}
        self.assertEqual(result["data"], {
            "b": added, "a": added,
            "docuser": {"success": False, "message": "User is not an organization user."}})
        self.assertEqual(self.client.state()["org"]["groups"]["g"]["members"], ["a", "b"])

    def test_add_users_to_unknown_group(self):
        self.add_users("org", [user("a")])
        missing = {"success": False, "message": "Organization user group does not exist."}
        self.assertEqual(self.membership(self.ADD, ["a", "b"], group="nope")["data"],
                         {"a": missing, "b": missing})
        self.assertEqual(self.membership(self.ADD, ["a"], org="nope")["data"], {"a": missing})
        self.assertEqual(self.membership(self.DELETE, ["a"], group="nope")["data"],
                         {"a": missing})

    def test_delete_users_from_group(self):
        self.add_users("org", [user("a"), user("b"), user("c")])
        self.add_group("org", "g")
        self.membership(self.ADD, ["a", "b", "c"])
        result = self.membership(self.DELETE, ["a", "zz"])
        self.assertEqual(result["message"], "Deleted users from group successfully.")
        self.assertEqual(result["data"], {
            "a": {"success": True, "organizationUserGroupId": "g",
                  "message": "User deleted from organization user group."},
            "zz": {"success": False,
                   "message": "User is not a member of the organization user group."}})
        result = self.membership(self.DELETE, deleteAll=True)
        self.assertEqual(list(result["data"]), ["b", "c"])
        self.assertTrue(all(item["success"] for item in result["data"].values()))
        self.assertEqual(self.client.state()["org"]["groups"]["g"]["members"], [])
        self.assertEqual(self.client.state()["org"]["users"].keys(), {"a", "b", "c"})
        self.assertEqual(self.membership(self.DELETE, deleteAll=True, group="nope")["data"], {})


class FaultTest(StandInTestCase):

    def test_status_fault_with_retry_after(self):
        self.assertEqual(self.client.fault(status=429, retry_after="7"), {"ok": True, "queued": 1})
        status, response, body = self.client.raw(
            "POST", "/v2/users/add", {"data": {"organizationId": "o", "users": [user("u")]}},
            AUTH)
        self.assertEqual(status, 429)
        self.assertEqual(response.getheader("Retry-After"), "7")
        self.assertEqual(json.loads(body)["error"]["status"], "RESOURCE_EXHAUSTED")
        self.assertEqual(self.client.state(), {})  # faulted requests change no state
        entry = self.client.requests()[0]
        self.assertEqual(entry["status"], 429)
        self.assertEqual(entry["fault"], {"status": 429, "retry_after": "7", "count": 1})
        self.assertEqual(self.add_users("o", [user("u")])[0], 200)  # fault used up

    def test_status_fault_with_explicit_error(self):
        self.client.fault(status=503, error_status="INTERNAL", message="boom")
        self.assertEqual(self.add_users("o", [user("u")]),
                         (503, {"error": {"message": "boom", "status": "INTERNAL"}}))

    def test_body_fault(self):
        self.client.fault(body="<html>gateway</html>", content_type="text/html", status=502)
        status, response, body = self.client.raw("POST", "/v2/users/add", "{}", AUTH)
        self.assertEqual((status, body), (502, b"<html>gateway</html>"))
        self.assertEqual(response.getheader("Content-Type"), "text/html")
        self.client.fault(body='{"result":')
        status, response, body = self.client.raw("POST", "/v2/users/add", "{}", AUTH)
        self.assertEqual((status, body), (200, b'{"result":'))
        self.assertEqual(response.getheader("Content-Type"), "application/json")

    def test_delay_alone_is_handled_normally(self):
        self.client.fault(delay_ms=300)
        started = time.monotonic()
        self.assertEqual(self.add_users("o", [user("u")])[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.29)
        self.assertIn("u", self.client.state()["o"]["users"])
        self.assertEqual(self.client.requests()[0]["fault"], {"delay_ms": 300, "count": 1})

    def test_drop(self):
        self.client.fault(drop=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.add_users("o", [user("u")])
        entry = self.client.requests()[0]
        self.assertEqual((entry["status"], entry["fault"]["drop"]), (0, True))
        self.assertEqual(self.client.state(), {})

    def test_truncate(self):
        self.client.fault(truncate=True, status=500)
        connection = self.client.connection()
        try:
            connection.request("POST", "/v2/users/add",
                               json.dumps({"data": {"organizationId": "o", "users": []}}), AUTH)
            response = connection.getresponse()
            self.assertEqual(response.status, 500)
            with self.assertRaises(http.client.IncompleteRead):
                response.read()
        finally:
            connection.close()
        self.assertEqual(self.client.state(), {})

    def test_truncate_and_stall(self):
        self.client.fault(truncate=True, stall_ms=600)
        connection = self.client.connection()
        connection.timeout = 0.3
        try:
            connection.request("POST", "/v2/users/add",
                               json.dumps({"data": {"organizationId": "o", "users": []}}), AUTH)
            response = connection.getresponse()   # the headers and half the body come at once
            self.assertEqual(response.status, 200)
            length = int(response.getheader("Content-Length"))
            self.assertEqual(response.read(length // 2), self.truncated_success()[:length // 2])
            with self.assertRaises(socket.timeout):  # then nothing: the answer never finishes
                response.read(1)
        finally:
            connection.close()
        self.assertEqual(self.client.state(), {})
        self.assertEqual(self.client.requests()[0]["fault"],
                         {"truncate": True, "stall_ms": 600, "count": 1})

    @staticmethod
    def truncated_success():
        return json.dumps({"result": {"status": "success", "message": "Truncated by the stand-in.",
                                      "data": {}}}, separators=(",", ":")).encode("utf-8")

    def test_body_bytes(self):
        self.client.fault(body_bytes=100000)
        status, _response, body = self.client.raw(
            "POST", "/v2/users/add", {"data": {"organizationId": "o", "users": [user("u")]}},
            AUTH)
        self.assertEqual((status, len(body)), (200, 100000))
        self.assertEqual(json.loads(body)["result"]["data"], {})
        self.assertEqual(self.client.state(), {})  # the request was not handled

    def test_pad_bytes_pads_the_normal_answer(self):
        self.client.fault(pad_bytes=200000, count=2)
        status, _response, body = self.client.raw(
            "POST", "/v2/users/add", {"data": {"organizationId": "o", "users": [user("u")]}},
            AUTH)
        self.assertEqual((status, len(body)), (200, 200000))
        result = json.loads(body)["result"]
        self.assertEqual(result["data"]["u"]["success"], True)
        self.assertEqual(result["padding"], "x" * len(result["padding"]))
        self.assertIn("u", self.client.state()["o"]["users"])  # handled normally
        # an error answer is padded beside "error"; the log keeps the error without padding
        status, _response, body = self.client.raw("POST", "/v2/users/add", "nope", AUTH)
        self.assertEqual((status, len(body)), (400, 200000))
        self.assertEqual(json.loads(body)["error"]["status"], "INVALID_ARGUMENT")
        self.assertNotIn("padding", self.client.requests()[1]["error"])
        # an answer already longer than pad_bytes is sent as it is
        self.client.fault(pad_bytes=10)
        self.assertEqual(self.add_users("o", [user("v")])[1]["result"]["padding"], "")

    def test_count_path_filter_and_fifo(self):
        self.client.fault(status=500, path_contains="usergroups", count=2)
        self.assertEqual(self.client.fault(status=503)["queued"], 2)
        self.client.control("GET", "stats")  # control requests never take a fault
        self.assertEqual(self.add_group("o", "g")[0], 500)
        self.assertEqual(self.add_users("o", [user("u")])[0], 503)   # first fault skips users/
        self.assertEqual(self.add_users("o", [user("u")])[0], 200)
        self.assertEqual(self.add_group("o", "g")[0], 500)
        self.assertEqual(self.add_group("o", "g")[0], 200)
        self.assertEqual([entry["status"] for entry in self.client.requests()],
                         [500, 503, 200, 500, 200])

    def test_body_filter(self):
        # a fault for the request whose body names "b" skips the others, in any order
        self.client.fault(status=400, body_contains='"b"')
        self.assertEqual(self.add_users("o", [user("a")])[0], 200)
        self.assertEqual(self.add_users("o", [user("b")])[0], 400)
        self.assertEqual(self.add_users("o", [user("c")])[0], 200)
        self.assertEqual([entry["status"] for entry in self.client.requests()], [200, 400, 200])

    def test_invalid_fault_rejected(self):
        for fault in ({}, {"drop": True, "truncate": True}, {"status": "500"},
                      {"status": 500, "surprise": 1}, {"drop": True, "count": 0},
                      {"stall_ms": 100}, {"status": 500, "stall_ms": 100},
                      {"truncate": True, "stall_ms": 0}, {"pad_bytes": 0},
                      {"pad_bytes": 100, "status": 500}, {"pad_bytes": 100, "drop": True},
                      {"body_bytes": -1}, {"pad_bytes": "100"},
                      {"status": 500, "body_contains": 1}):
            status, answer = self.client.control("POST", "fault", fault)
            self.assertEqual((status, answer["ok"]), (400, False), fault)

    def test_reset_clears_faults(self):
        self.client.fault(status=500)
        self.client.control("POST", "reset")
        self.assertEqual(self.add_users("o", [user("u")])[0], 200)


class ControlAndConnectionTest(StandInTestCase):

    def test_keep_alive_and_connection_numbers(self):
        connection = self.client.connection()
        try:
            for user_id in ("a", "b"):
                status, _ = self.client.api("/v2/users/add",
                                            {"organizationId": "o", "users": [user(user_id)]},
                                            connection=connection)
                self.assertEqual(status, 200)
        finally:
            connection.close()
        self.add_users("o", [user("c")])  # a fresh connection
        log = self.client.requests()
        self.assertEqual([entry["conn"] for entry in log], [1, 1, 2])
        # The control requests above used their own connections and are not counted.
        self.assertEqual(self.client.control("GET", "stats")[1], stats(3, 2, 3))

    def test_request_log_fields(self):
        before = time.time()
        self.client.raw("POST", "/v2/users/add?x=1", "not json", AUTH)
        entry = self.client.requests()[0]
        self.assertEqual(set(entry), {"seq", "time", "method", "path", "auth", "body", "status",
                                      "fault", "conn", "error"})
        self.assertEqual((entry["seq"], entry["method"], entry["path"], entry["auth"],
                          entry["body"], entry["status"], entry["fault"]),
                         (1, "POST", "/v2/users/add?x=1", "ok", "not json", 400, None))
        self.assertGreaterEqual(entry["time"], before - 1)
        self.assertEqual(entry["error"]["status"], "INVALID_ARGUMENT")

    def test_reset_and_state_shape(self):
        self.add_users("o", [user("u")], folderId="f")
        self.add_group("o", "g", "G")
        self.assertEqual(self.client.state(), {"o": {
            "users": {}, "documents": {},
            "folders": {"f": {"users": {"u": dict(user("u"), initial="N",
                                                  accessRole="editor")}}},
            "groups": {"g": {"groupName": "G", "members": []}}}})
        self.assertEqual(self.client.control("POST", "reset"), (200, {"ok": True}))
        self.assertEqual(self.client.state(), {})
        self.assertEqual(self.client.requests(), [])
        self.assertEqual(self.client.control("GET", "stats")[1], stats(0, 0, 0))

    def test_many_requests_quickly(self):
        connection = self.client.connection()
        started = time.monotonic()
        try:
            for index in range(300):
                status, _ = self.client.api("/v2/users/add", {"organizationId": "o",
                                                              "users": [user("u%d" % index)]},
                                            connection=connection)
                self.assertEqual(status, 200)
        finally:
            connection.close()
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertEqual(self.client.control("GET", "stats")[1], stats(300, 1, 300))

    def test_stats_count_openapi_validation(self):
        # Every endpoint with a schema in the extract is validated against it.
        self.assertGreater(OPENAPI_SCHEMAS, 0)
        self.assertEqual(self.client.control("GET", "stats")[1], stats(0, 0, 0))
        self.assertEqual(self.add_users("o", [user("u")])[0], 200)
        self.assertEqual(self.client.control("GET", "stats")[1]["openapi_validated"], 1)
        self.assertEqual(self.add_users("o", [user("v")], version="v1")[0], 200)
        self.assertEqual(self.client.control("GET", "stats")[1]["openapi_validated"], 2)
        # A body the spec rejects is not counted (the spec's User requires email) ...
        self.assert_invalid(self.add_users("o", [{"userId": "w", "name": "n"}]),
                            contains="'email' is a required property")
        # ... one the spec accepts is, even when a hand-written check rejects it afterwards
        # (the spec's users/data/delete schema is just "an object") ...
        self.assert_invalid(self.client.api("/v2/users/data/delete", {"userIds": []}),
                            contains="$.data.userIds")
        # ... and an endpoint the spec lacks never counts.
        self.assertEqual(self.client.api("/v2/organizations/documents/access/update",
                                         {"organizationId": "o", "documentIds": ["d"],
                                          "accessType": "public"})[0], 200)
        self.assertEqual(self.client.control("GET", "stats")[1], stats(5, 5, 3))
        self.client.control("POST", "reset")
        self.assertEqual(self.client.control("GET", "stats")[1], stats(0, 0, 0))


def organization(org_id, name=None, **fields):
    record = {"organizationId": org_id, "organizationName": name or "Org " + org_id}
    record.update(fields)
    return record


ORG_MISSING = "Organization does not exist"


class OrganizationsTest(StandInTestCase):
    """organizations/add, update, delete and access/disablestate/update."""

    def orgs(self, action, organizations, version="v2"):
        status, answer = self.client.api("/%s/organizations/%s" % (version, action),
                                         {"organizations": organizations})
        self.assertEqual(status, 200, answer)
        return answer["result"]

    def by_ids(self, path, org_ids, version="v2", **extra):
        status, answer = self.client.api("/%s/organizations/%s" % (version, path),
                                         dict(organizationIds=org_ids, **extra))
        self.assertEqual(status, 200, answer)
        return answer["result"]

    def test_add_organizations(self):
        result = self.orgs("add", [organization("b", "Bee", plan="pro", seats=3),
                                   organization("a", "Ay")])
        self.assertEqual((result["status"], result["message"]),
                         ("success", "Organization(s) added successfully."))
        self.assertEqual(list(result["data"]), ["b", "a"])
        for item in result["data"].values():
            self.assertEqual(set(item), {"success", "id", "message"})
            self.assertEqual((item["success"], item["message"]), (True, "Added Successfully"))
            self.assertRegex(item["id"], HEX32)
        self.assertNotEqual(result["data"]["a"]["id"], result["data"]["b"]["id"])
        self.assertEqual(self.client.details(), {
            "b": {"metadata": {"organizationName": "Bee", "plan": "pro", "seats": 3},
                  "disabled": False},
            "a": {"metadata": {"organizationName": "Ay"}, "disabled": False}})
        # The original state shape is untouched: metadata lives under organizationDetails.
        self.assertEqual(self.client.state()["a"],
                         {"users": {}, "documents": {}, "folders": {}, "groups": {}})
        again = self.orgs("add", [organization("a", "Ay")], version="v1")
        self.assertEqual(again["data"]["a"]["id"], result["data"]["a"]["id"])  # stable id

    def test_add_upserts_metadata_and_keeps_contents(self):
        self.add_users("org", [user("u")])
        self.add_users("org", [user("d")], documentId="doc")
        self.add_group("org", "g", "G")
        self.assertEqual(self.client.details()["org"], {"metadata": {}, "disabled": False})
        self.orgs("add", [organization("org", "First", plan="pro")])
        self.by_ids("access/disablestate/update", ["org"], disabled=True)
        result = self.orgs("add", [organization("org", "Second")])
        self.assertEqual(result["data"]["org"]["message"], "Added Successfully")
        # metadata replaced (plan gone), disabled kept, contents kept
        self.assertEqual(self.client.details()["org"],
                         {"metadata": {"organizationName": "Second"}, "disabled": True})
        org = self.client.state()["org"]
        self.assertEqual(list(org["users"]), ["u"])
        self.assertEqual(list(org["documents"]["doc"]["users"]), ["d"])
        self.assertEqual(org["groups"], {"g": {"groupName": "G", "members": []}})
        # "disabled" in the object sets the disabled state; it is not metadata.
        self.orgs("add", [organization("org", "Third", disabled=False)])
        self.assertEqual(self.client.details()["org"],
                         {"metadata": {"organizationName": "Third"}, "disabled": False})

    def test_add_and_update_validation(self):
        for action in ("add", "update"):
            path = "/v2/organizations/" + action
            self.assert_invalid(self.client.api(path, {}),
                                contains="'organizations' is a required property")
            self.assert_invalid(self.client.api(path, {"organizations": [
                {"organizationName": "N"}]}),
                contains="'organizationId' is a required property")
            # The spec's Organization requires organizationName too.
            self.assert_invalid(self.client.api(path, {"organizations": [
                {"organizationId": "o"}]}),
                contains="'organizationName' is a required property")
            self.assert_invalid(self.client.api(path, {"organizations": [
                organization("o", disabled="yes")]}),
                contains="$.data.organizations[0].disabled")
        self.assertEqual(self.client.state(), {})
        self.assertEqual(self.orgs("add", [])["data"], {})

    def test_update_organizations(self):
        self.orgs("add", [organization("a", "Ay", plan="free", region="eu")])
        result = self.orgs("update", [organization("a", "Ay 2", plan="pro"),
                                      organization("ghost", "Boo")])
        self.assertEqual(result["message"], "Organization(s) updated successfully.")
        ids = self.orgs("add", [organization("a", "Ay 2", plan="pro", region="eu")])["data"]
        self.assertEqual(result["data"]["a"],
                         {"success": True, "id": ids["a"]["id"],
                          "message": "Updated Successfully"})
        missing = result["data"]["ghost"]
        self.assertEqual((missing["success"], missing["message"]), (False, ORG_MISSING))
        self.assertRegex(missing["id"], HEX32)
        # merge: region kept; unknown organizations are not created
        self.assertEqual(self.client.details(), {"a": {
            "metadata": {"organizationName": "Ay 2", "plan": "pro", "region": "eu"},
            "disabled": False}})
        result = self.orgs("update", [organization("a", "Ay 3", disabled=True)], version="v1")
        self.assertEqual(result["data"]["a"]["message"], "Updated Successfully")
        self.assertEqual(self.client.details()["a"]["disabled"], True)
        self.assertEqual(self.client.details()["a"]["metadata"]["organizationName"], "Ay 3")

    def test_update_organization_created_by_users_add(self):
        self.add_users("implicit", [user("u")])
        result = self.orgs("update", [organization("implicit", "Named later")])
        self.assertTrue(result["data"]["implicit"]["success"])
        self.assertEqual(self.client.details()["implicit"]["metadata"],
                         {"organizationName": "Named later"})
        self.assertEqual(list(self.client.state()["implicit"]["users"]), ["u"])

    def test_delete_organizations_cascades(self):
        self.orgs("add", [organization("a"), organization("b")])
        self.add_users("a", [user("u1"), user("u2")])
        self.add_users("a", [user("d")], documentId="doc")
        self.add_users("a", [user("f")], folderId="fold")
        self.add_group("a", "g")
        self.client.api("/v2/organizations/usergroups/users/add",
                        {"organizationId": "a", "organizationUserGroupId": "g",
                         "userIds": ["u1"]})
        self.add_users("implicit", [user("x")])
        result = self.by_ids("delete", ["a", "ghost", "implicit", "a"])
        self.assertEqual(result["message"], "Organization(s) deleted successfully.")
        self.assertEqual(list(result["data"]), ["a", "ghost", "implicit"])
        deleted = result["data"]["a"]
        self.assertEqual((deleted["success"], deleted["message"]), (True, "Deleted Successfully"))
        self.assertRegex(deleted["id"], HEX32)
        self.assertEqual((result["data"]["ghost"]["success"], result["data"]["ghost"]["message"]),
                         (False, ORG_MISSING))
        self.assertRegex(result["data"]["ghost"]["id"], HEX32)
        self.assertTrue(result["data"]["implicit"]["success"])
        self.assertEqual(list(self.client.state()), ["b"])
        self.assertEqual(list(self.client.details()), ["b"])
        # Everything inside went with it: group membership answers "does not exist" now.
        answer = self.client.api("/v2/organizations/usergroups/users/add",
                                 {"organizationId": "a", "organizationUserGroupId": "g",
                                  "userIds": ["u1"]})
        self.assertFalse(answer[1]["result"]["data"]["u1"]["success"])
        self.assertEqual(self.client.state(), {"b": self.client.state()["b"]})
        # Users added later start a fresh organization without metadata.
        self.add_users("a", [user("new")])
        self.assertEqual(self.client.details()["a"], {"metadata": {}, "disabled": False})
        self.assertEqual(list(self.client.state()["a"]["users"]), ["new"])
        # v1 deletes too (shared state); a second delete reports the miss.
        self.assertTrue(self.by_ids("delete", ["a"], version="v1")["data"]["a"]["success"])
        self.assertEqual(self.by_ids("delete", ["a"])["data"]["a"]["message"], ORG_MISSING)

    def test_delete_validation(self):
        path = "/v2/organizations/delete"
        self.assert_invalid(self.client.api(path, {}),
                            contains="'organizationIds' is a required property")
        self.assert_invalid(self.client.api(path, {"organizationIds": []}),
                            contains="$.data.organizationIds")
        self.assert_invalid(self.client.api(path, {"organizationIds": [5]}),
                            contains="$.data.organizationIds[0]")

    def test_update_disabled_state(self):
        self.orgs("add", [organization("a")])
        self.add_users("implicit", [user("u")])
        result = self.by_ids("access/disablestate/update", ["a", "ghost", "implicit"],
                             disabled=True)
        self.assertEqual(result["message"],
                         "Updated disable state for Organization(s) successfully.")
        item = result["data"]["a"]
        self.assertEqual((item["success"], item["message"]),
                         (True, "Updated disable state for organization Successfully"))
        self.assertRegex(item["id"], HEX32)
        ghost = result["data"]["ghost"]
        self.assertEqual((ghost["success"], ghost["message"]), (False, ORG_MISSING))
        self.assertRegex(ghost["id"], HEX32)
        self.assertTrue(result["data"]["implicit"]["success"])
        details = self.client.details()
        self.assertEqual(set(details), {"a", "implicit"})  # ghost not created
        self.assertEqual((details["a"]["disabled"], details["implicit"]["disabled"]),
                         (True, True))
        self.by_ids("access/disablestate/update", ["a"], version="v1", disabled=False)
        self.assertEqual(self.client.details()["a"]["disabled"], False)
        self.assertEqual(self.client.details()["implicit"]["disabled"], True)

    def test_disabled_state_validation(self):
        path = "/v2/organizations/access/disablestate/update"
        self.assert_invalid(self.client.api(path, {"organizationIds": ["a"]}),
                            contains="'disabled' is a required property")
        self.assert_invalid(self.client.api(path, {"organizationIds": ["a"], "disabled": 1}),
                            contains="$.data.disabled")
        self.assert_invalid(self.client.api(path, {"organizationIds": [], "disabled": True}),
                            contains="$.data.organizationIds")


class GetOrganizationsTest(StandInTestCase):
    """organizations/get: records, filters, the 30-id limit and pagination."""

    def setUp(self):
        super().setUp()
        self.client.api("/v2/organizations/add", {"organizations": [
            organization("b", "Bee", plan="pro"), organization("a", "Ay"),
            organization("d", "Dee")]})
        self.add_users("c", [user("u")])  # created implicitly: no organizationName
        self.client.api("/v2/organizations/access/disablestate/update",
                        {"organizationIds": ["d"], "disabled": True})

    RECORDS = {
        "a": {"id": "a", "organizationName": "Ay", "disabled": False},
        "b": {"id": "b", "organizationName": "Bee", "disabled": False, "plan": "pro"},
        "c": {"id": "c", "disabled": False},
        "d": {"id": "d", "organizationName": "Dee", "disabled": True},
    }

    def get(self, version="v2", **data):
        status, answer = self.client.api("/%s/organizations/get" % version, data)
        self.assertEqual(status, 200, answer)
        return answer["result"]

    def pages(self, version="v2", **data):
        """Follow nextPageToken to the end: the list of pages (lists of ids)."""
        pages, tokens = [], []
        while True:
            result = self.get(version, **data)
            pages.append([record["id"] for record in result["data"]])
            if "nextPageToken" not in result:
                return pages
            token = result["nextPageToken"]
            self.assertIsInstance(token, str)
            self.assertNotIn(token, tokens)
            tokens.append(token)
            data["pageToken"] = token
            self.assertLess(len(pages), 20)

    def test_get_all(self):
        result = self.get()
        self.assertEqual(result, {
            "status": "success", "message": "Organization(s) retrieved successfully.",
            "data": [self.RECORDS[org_id] for org_id in "abcd"]})
        self.assertEqual(list(result["data"][1]), ["id", "organizationName", "disabled", "plan"])
        self.assertEqual(self.get(organizationIds=[]), result)  # empty filter = all
        self.assertEqual(self.get("v1"), result)

    def test_get_by_ids_skips_unknown(self):
        result = self.get(organizationIds=["d", "ghost", "b", "d"])
        self.assertEqual(result["data"], [self.RECORDS["b"], self.RECORDS["d"]])
        self.assertNotIn("nextPageToken", result)
        self.assertEqual(self.get(organizationIds=["ghost"])["data"], [])
        self.assertEqual(self.get("v1", organizationIds=["c"])["data"], [self.RECORDS["c"]])

    def test_get_reflects_update_and_delete(self):
        self.client.api("/v1/organizations/update", {"organizations": [
            organization("c", "See", tier=2)]})
        self.client.api("/v2/organizations/delete", {"organizationIds": ["a"]})
        self.assertEqual(self.get()["data"], [
            self.RECORDS["b"], {"id": "c", "organizationName": "See", "disabled": False,
                                "tier": 2}, self.RECORDS["d"]])

    def test_thirty_id_limit(self):
        ids = ["o%02d" % index for index in range(31)]
        expected = (400, {"error": {"message": "Only 30 organizationIds can be passed at a time.",
                                    "status": "INVALID_ARGUMENT"}})
        for version in ("v2", "v1"):
            self.assertEqual(self.client.api("/%s/organizations/get" % version,
                                             {"organizationIds": ids}), expected)
        self.assertEqual(self.get(organizationIds=ids[:29] + ["a"])["data"],
                         [self.RECORDS["a"]])

    def test_pagination_with_page_size(self):
        first = self.get(pageSize=1)
        self.assertEqual(first["data"], [self.RECORDS["a"]])
        self.assertEqual(list(first), ["status", "message", "data", "nextPageToken"])
        self.assertEqual(self.pages(pageSize=1), [["a"], ["b"], ["c"], ["d"]])
        self.assertEqual(self.pages(pageSize=3), [["a", "b", "c"], ["d"]])
        self.assertEqual(self.pages(pageSize=4), [["a", "b", "c", "d"]])  # exact fit: no token
        # A token can be used again: the same page comes back.
        token = first["nextPageToken"]
        self.assertEqual(self.get(pageSize=2, pageToken=token)["data"],
                         [self.RECORDS["b"], self.RECORDS["c"]])
        self.assertEqual(self.get(pageSize=2, pageToken=token)["data"],
                         [self.RECORDS["b"], self.RECORDS["c"]])

    def test_pagination_with_filter(self):
        self.assertEqual(self.pages(pageSize=1, organizationIds=["d", "a", "ghost", "c"]),
                         [["a"], ["c"], ["d"]])

    def test_max_page_size_control(self):
        self.client.config(max_page_size=1)
        self.assertEqual(self.pages(), [["a"], ["b"], ["c"], ["d"]])
        self.assertEqual(self.pages(pageSize=3), [["a"], ["b"], ["c"], ["d"]])  # capped
        self.client.config(max_page_size=3)
        self.assertEqual(self.pages(pageSize=2), [["a", "b"], ["c", "d"]])  # the smaller wins
        self.assertEqual(self.pages(), [["a", "b", "c"], ["d"]])
        self.client.config(max_page_size=None)
        self.assertEqual(self.pages(), [["a", "b", "c", "d"]])
        self.client.config(max_page_size=2)
        self.client.config()  # nothing given: nothing changes
        self.assertEqual(self.pages(), [["a", "b"], ["c", "d"]])
        self.client.control("POST", "reset")  # reset clears the cap
        self.add_users("x", [user("u")])
        self.add_users("y", [user("u")])
        self.add_users("z", [user("u")])
        self.assertEqual(self.pages(), [["x", "y", "z"]])

    def test_page_token_survives_changes(self):
        first = self.get(pageSize=2)
        self.assertEqual([record["id"] for record in first["data"]], ["a", "b"])
        # The token means "after b": deleting b or adding ids before it does not skip anything.
        self.client.api("/v2/organizations/delete", {"organizationIds": ["b"]})
        self.add_users("aa", [user("u")])
        rest = self.get(pageSize=2, pageToken=first["nextPageToken"])
        self.assertEqual([record["id"] for record in rest["data"]], ["c", "d"])
        self.assertNotIn("nextPageToken", rest)

    def test_invalid_page_arguments(self):
        invalid_token = (400, {"error": {"message": "Invalid pageToken.",
                                         "status": "INVALID_ARGUMENT"}})
        for token in ("nope", "bm9wZQ==", "YWZ0ZXI6Yg", "!!!!", "YWZ0ZXI6Yg==x"):
            self.assertEqual(self.client.api("/v2/organizations/get", {"pageToken": token}),
                             invalid_token, token)
        # an empty token is the first page
        self.assertEqual(len(self.get(pageToken="")["data"]), 4)
        for page_size in (0, -1, "2", 1.5, True):
            self.assert_invalid(self.client.api("/v2/organizations/get",
                                                {"pageSize": page_size}),
                                contains="$.data.pageSize")
        self.assert_invalid(self.client.api("/v2/organizations/get", {"pageToken": 7}),
                            contains="$.data.pageToken")
        self.assert_invalid(self.client.api("/v2/organizations/get", {"organizationIds": "a"}),
                            contains="$.data.organizationIds")

    def test_v1_has_no_pagination(self):
        self.client.config(max_page_size=1)
        result = self.get("v1", pageSize=1, pageToken="not a token")
        self.assertEqual(result, {
            "status": "success", "message": "Organization(s) retrieved successfully.",
            "data": [self.RECORDS[org_id] for org_id in "abcd"]})
        v2 = self.get(pageSize=1)
        self.assertEqual(len(v2["data"]), 1)
        self.assertIn("nextPageToken", v2)


class ConfigControlTest(StandInTestCase):

    def test_config_answer_and_errors(self):
        status, _response, raw = self.client.raw("POST", "/_standin/config",
                                                 {"max_page_size": 5})
        self.assertEqual((status, raw), (200, b'{"ok":true}\n'))
        for body in ({"max_page_size": 0}, {"max_page_size": -2}, {"max_page_size": "2"},
                     {"max_page_size": True}, {"max_page_size": 1.5}, {"page_size": 1}, [1]):
            status, answer = self.client.control("POST", "config", body)
            self.assertEqual((status, answer["ok"]), (400, False), body)
            self.assertIn("error", answer)
        status, _response, raw = self.client.raw("POST", "/_standin/config", "{nope")
        self.assertEqual(status, 400)
        self.assertEqual(self.client.control("GET", "config")[0], 405)
        self.assertEqual(self.client.requests(), [])  # control traffic is not logged

    def test_state_details_for_implicit_organizations(self):
        self.add_users("o", [user("u")])
        self.add_group("g-org", "g")
        self.assertEqual(self.client.details(), {
            "o": {"metadata": {}, "disabled": False},
            "g-org": {"metadata": {}, "disabled": False}})
        self.client.control("POST", "reset")
        self.assertEqual(self.client.control("GET", "state")[1],
                         {"organizations": {}, "organizationDetails": {}})


DOC_NUMBER = re.compile(r"^[1-9][0-9]{15}$")
DOC_MISSING = "Document does not exist"


def missing_document(doc_id):
    return {"success": False, "id": doc_id, "message": DOC_MISSING, "code": "not-found"}


def document(doc_id, **fields):
    record = {"documentId": doc_id}
    record.update(fields)
    return record


class DocumentsTestCase(StandInTestCase):

    def docs(self, action, org, documents, version="v2", **extra):
        """POST organizations/documents/<action> with documents[]: (status, answer)."""
        return self.client.api("/%s/organizations/documents/%s" % (version, action),
                               dict(organizationId=org, documents=documents, **extra))

    def by_doc_ids(self, action, org, doc_ids, version="v2", **extra):
        return self.client.api("/%s/organizations/documents/%s" % (version, action),
                               dict(organizationId=org, documentIds=doc_ids, **extra))

    def ok(self, answer):
        status, payload = answer
        self.assertEqual(status, 200, payload)
        return payload["result"]

    def stored(self, org, doc_id):
        return self.client.state()[org]["documents"][doc_id]


class DocumentsWriteTest(DocumentsTestCase):
    """organizations/documents/add, update and delete, with the v2 HTTP 500 partial rule."""

    def test_add_documents(self):
        result = self.ok(self.docs("add", "org", [
            document("d2", documentName="Two", accessType="restricted", disabled=True,
                     owner="ann"),
            document("d1")]))
        self.assertEqual((result["status"], result["message"]),
                         ("success", "Document(s) added successfully."))
        self.assertEqual(list(result["data"]), ["d2", "d1"])
        for item in result["data"].values():
            self.assertEqual(set(item), {"success", "id", "message"})
            self.assertEqual((item["success"], item["message"]), (True, "Added Successfully"))
            self.assertRegex(item["id"], DOC_NUMBER)
        self.assertNotEqual(result["data"]["d1"]["id"], result["data"]["d2"]["id"])
        # The organization was created on first use, without metadata.
        self.assertEqual(self.client.details(), {"org": {"metadata": {}, "disabled": False}})
        self.assertEqual(self.stored("org", "d2"), {
            "users": {}, "metadata": {"documentName": "Two", "owner": "ann"},
            "accessType": "restricted", "disabled": True, "folderId": None})
        self.assertEqual(self.stored("org", "d1"), {
            "users": {}, "metadata": {}, "accessType": "public", "disabled": False,
            "folderId": None})
        # v1 shares the state; the same id in another organization is another document.
        other = self.ok(self.docs("add", "other", [document("d1")], version="v1"))
        self.assertTrue(other["data"]["d1"]["success"])
        self.assertNotEqual(other["data"]["d1"]["id"], result["data"]["d1"]["id"])

    def test_add_into_folder_creates_it(self):
        result = self.ok(self.docs("add", "org", [document("d1"), document("d2")],
                                   folderId="f", createFolder=True, createOrganization=True))
        self.assertTrue(all(item["success"] for item in result["data"].values()))
        org = self.client.state()["org"]
        self.assertEqual(org["folders"], {"f": {"users": {}}})
        self.assertEqual(org["documents"]["d1"]["folderId"], "f")
        # An existing folder keeps its users.
        self.add_users("org", [user("fu")], folderId="g")
        self.ok(self.docs("add", "org", [document("d3")], folderId="g"))
        org = self.client.state()["org"]
        self.assertEqual(list(org["folders"]["g"]["users"]), ["fu"])
        self.assertEqual(org["documents"]["d3"]["folderId"], "g")

    def test_add_existing_v2_answers_500_and_keeps_successes(self):
        first = self.ok(self.docs("add", "org", [document("a", documentName="A")]))
        status, answer = self.docs("add", "org", [document("b"), document("a",
                                                                          documentName="New"),
                                                  document("c")])
        self.assertEqual(status, 500)
        details = answer["error"]["details"]
        self.assertEqual(answer, {"error": {
            "message": "Error adding document(s).", "status": "INTERNAL",
            "details": {
                "b": {"success": True, "id": details["b"]["id"], "message": "Added Successfully"},
                "a": {"success": False, "id": "a", "message": "Document already exists",
                      "code": "already-exists"},
                "c": {"success": True, "id": details["c"]["id"],
                      "message": "Added Successfully"}}}})
        self.assertEqual(list(details), ["b", "a", "c"])
        self.assertRegex(details["b"]["id"], DOC_NUMBER)
        # The successes were applied; the existing document is untouched.
        self.assertEqual(sorted(self.client.state()["org"]["documents"]), ["a", "b", "c"])
        self.assertEqual(self.stored("org", "a")["metadata"], {"documentName": "A"})
        # Every item failing is a 500 too; the log records the error with its details.
        status, answer = self.docs("add", "org", [document("a")])
        self.assertEqual((status, list(answer["error"]["details"])), (500, ["a"]))
        entry = self.client.requests()[-1]
        self.assertEqual(entry["status"], 500)
        self.assertEqual(entry["error"]["details"]["a"]["code"], "already-exists")
        self.assertEqual(first["data"]["a"]["id"],
                         self.ok(self.docs("update", "org", [document("a")]))["data"]["a"]["id"])

    def test_add_existing_v1_reports_inline(self):
        self.ok(self.docs("add", "org", [document("a")]))
        result = self.ok(self.docs("add", "org", [document("a"), document("b")], version="v1"))
        self.assertEqual(result["message"], "Document(s) added successfully.")
        self.assertEqual(result["data"]["a"], {"success": False, "id": "a",
                                               "message": "Document already exists",
                                               "code": "already-exists"})
        self.assertEqual(result["data"]["b"]["message"], "Added Successfully")
        self.assertIn("b", self.client.state()["org"]["documents"])

    def test_add_repeated_id_keeps_first_answer(self):
        result = self.ok(self.docs("add", "org", [document("x", documentName="1"),
                                                  document("x", documentName="2")]))
        self.assertEqual(list(result["data"]), ["x"])
        self.assertTrue(result["data"]["x"]["success"])
        self.assertEqual(self.stored("org", "x")["metadata"], {"documentName": "1"})

    def test_document_created_by_users_add_exists(self):
        self.add_users("org", [user("du")], documentId="doc")
        self.assertEqual(self.stored("org", "doc"), {
            "users": {"du": dict(user("du"), initial="N", accessRole="editor")},
            "metadata": {}, "accessType": "public", "disabled": False, "folderId": None})
        status, answer = self.docs("add", "org", [document("doc")])
        self.assertEqual((status, answer["error"]["details"]["doc"]["code"]),
                         (500, "already-exists"))

    def test_update_documents_merges(self):
        added = self.ok(self.docs("add", "org", [
            document("a", documentName="A", owner="ann", accessType="restricted")]))
        result = self.ok(self.docs("update", "org", [
            document("a", documentName="A2", tag="x", disabled=True)]))
        self.assertEqual(result, {"status": "success",
                                  "message": "Document(s) updated successfully.",
                                  "data": {"a": {"success": True, "id": added["data"]["a"]["id"],
                                                 "message": "Updated Successfully"}}})
        self.assertEqual(self.stored("org", "a"), {
            "users": {}, "metadata": {"documentName": "A2", "owner": "ann", "tag": "x"},
            "accessType": "restricted", "disabled": True, "folderId": None})

    def test_update_unknown_v2_answers_500_and_keeps_successes(self):
        self.ok(self.docs("add", "org", [document("a"), document("b")]))
        status, answer = self.docs("update", "org", [document("a", documentName="A"),
                                                     document("ghost"),
                                                     document("b", documentName="B")])
        self.assertEqual(status, 500)
        error = answer["error"]
        self.assertEqual((error["message"], error["status"]),
                         ("Error updating document(s).", "INTERNAL"))
        self.assertEqual(list(error["details"]), ["a", "ghost", "b"])
        self.assertEqual(error["details"]["ghost"], missing_document("ghost"))
        self.assertEqual(error["details"]["a"]["message"], "Updated Successfully")
        self.assertEqual(self.stored("org", "a")["metadata"], {"documentName": "A"})
        self.assertEqual(self.stored("org", "b")["metadata"], {"documentName": "B"})
        self.assertNotIn("ghost", self.client.state()["org"]["documents"])

    def test_update_unknown_v1_reports_inline(self):
        self.ok(self.docs("add", "org", [document("a")]))
        result = self.ok(self.docs("update", "org", [document("a", documentName="A"),
                                                     document("ghost")], version="v1"))
        self.assertEqual(result["message"], "Document(s) updated successfully.")
        self.assertEqual(result["data"]["ghost"], missing_document("ghost"))
        self.assertTrue(result["data"]["a"]["success"])
        # An unknown organization: every item not found, nothing created.
        result = self.ok(self.docs("update", "nope", [document("a")], version="v1"))
        self.assertEqual(result["data"], {"a": missing_document("a")})
        self.assertEqual(set(self.client.state()), {"org"})

    def test_delete_documents_with_their_users(self):
        added = self.ok(self.docs("add", "org", [document("a"), document("b")]))
        self.add_users("org", [user("du")], documentId="a")
        self.add_users("org", [user("ou")])
        result = self.ok(self.by_doc_ids("delete", "org", ["a"]))
        self.assertEqual(result, {"status": "success",
                                  "message": "Document(s) deleted successfully.",
                                  "data": {"a": {"success": True, "id": added["data"]["a"]["id"],
                                                 "message": "Deleted Successfully"}}})
        org = self.client.state()["org"]
        self.assertEqual(list(org["documents"]), ["b"])
        self.assertEqual(list(org["users"]), ["ou"])
        # Re-adding starts a fresh document without the old users.
        self.ok(self.docs("add", "org", [document("a")]))
        self.assertEqual(self.stored("org", "a")["users"], {})

    def test_delete_unknown_v2_answers_500_and_keeps_successes(self):
        self.ok(self.docs("add", "org", [document("a"), document("b")]))
        status, answer = self.by_doc_ids("delete", "org", ["a", "ghost"])
        self.assertEqual(status, 500)
        error = answer["error"]
        self.assertEqual((error["message"], error["status"]),
                         ("Error deleting document(s).", "INTERNAL"))
        self.assertEqual(error["details"]["ghost"], missing_document("ghost"))
        self.assertEqual(error["details"]["a"]["message"], "Deleted Successfully")
        self.assertEqual(list(self.client.state()["org"]["documents"]), ["b"])

    def test_delete_v1_inline_and_repeated_ids(self):
        self.ok(self.docs("add", "org", [document("a")]))
        result = self.ok(self.by_doc_ids("delete", "org", ["a", "ghost", "a"], version="v1"))
        self.assertEqual(list(result["data"]), ["a", "ghost"])
        self.assertEqual(result["data"]["a"]["message"], "Deleted Successfully")
        self.assertEqual(result["data"]["ghost"], missing_document("ghost"))
        self.assertEqual(self.ok(self.by_doc_ids("delete", "nope", ["a"], version="v1"))["data"],
                         {"a": missing_document("a")})
        self.assertEqual(set(self.client.state()), {"org"})

    def test_write_validation(self):
        for action in ("add", "update"):
            self.assert_invalid(self.docs(action, "org", [{"documentName": "N"}]),
                                contains="'documentId' is a required property")
            self.assert_invalid(self.client.api("/v2/organizations/documents/" + action,
                                                {"documents": []}),
                                contains="'organizationId' is a required property")
            self.assert_invalid(self.docs(action, "org", [document("d", disabled="no")]),
                                contains="$.data.documents[0].disabled")
            # The spec's Document enum lists only public and restricted.
            self.assert_invalid(self.docs(action, "org", [document(
                "d", accessType="organizationPrivate")]),
                contains="$.data.documents[0].accessType")
        self.assert_invalid(self.by_doc_ids("delete", "org", []), contains="$.data.documentIds")
        self.assert_invalid(self.client.api("/v2/organizations/documents/delete",
                                            {"organizationId": "o"}),
                            contains="'documentIds' is a required property")
        self.assertEqual(self.client.state(), {})
        self.assertEqual(self.ok(self.docs("add", "org", []))["data"], {})


class DocumentsAccessTest(DocumentsTestCase):
    """organizations/documents/access/update and access/disablestate/update."""

    def setUp(self):
        super().setUp()
        self.ok(self.docs("add", "org", [document("a"), document("b")]))

    def test_update_access(self):
        for access_type in ("organizationPrivate", "restricted", "public"):
            result = self.ok(self.by_doc_ids("access/update", "org", ["a", "ghost"],
                                             accessType=access_type))
            self.assertEqual(result, {
                "status": "success", "message": "Updated access for documents successfully.",
                "data": {"a": {"success": True, "accessType": access_type,
                               "message": "Document access type updated."},
                         "ghost": missing_document("ghost")}})
            self.assertEqual(self.stored("org", "a")["accessType"], access_type)
        self.ok(self.by_doc_ids("access/update", "org", ["b"], version="v1",
                                accessType="restricted"))
        self.assertEqual(self.stored("org", "b")["accessType"], "restricted")
        self.assertNotIn("ghost", self.client.state()["org"]["documents"])
        result = self.ok(self.by_doc_ids("access/update", "nope", ["a"], accessType="public"))
        self.assertEqual(result["data"], {"a": missing_document("a")})
        self.assertEqual(set(self.client.state()), {"org"})

    def test_update_access_validation(self):
        for access_type in ("private", "", None, 1):
            self.assert_invalid(self.by_doc_ids("access/update", "org", ["a"],
                                                accessType=access_type),
                                contains="$.data.accessType")
        self.assert_invalid(self.by_doc_ids("access/update", "org", ["a"]),
                            contains="'accessType' is a required property")
        self.assert_invalid(self.by_doc_ids("access/update", "org", [], accessType="public"),
                            contains="$.data.documentIds")
        self.assertEqual(self.stored("org", "a")["accessType"], "public")

    def test_update_disabled_state(self):
        result = self.ok(self.by_doc_ids("access/disablestate/update", "org", ["a", "ghost"],
                                         disabled=True))
        self.assertEqual(result, {
            "status": "success", "message": "Updated disable state for documents successfully.",
            "data": {"a": {"success": True, "disabled": True,
                           "message": "Document disabled state updated."},
                     "ghost": missing_document("ghost")}})
        self.assertEqual(self.stored("org", "a")["disabled"], True)
        self.assertEqual(self.stored("org", "b")["disabled"], False)
        result = self.ok(self.by_doc_ids("access/disablestate/update", "org", ["a"],
                                         version="v1", disabled=False))
        self.assertEqual(result["data"]["a"]["disabled"], False)
        self.assertEqual(self.stored("org", "a")["disabled"], False)
        self.assert_invalid(self.by_doc_ids("access/disablestate/update", "org", ["a"]),
                            contains="'disabled' is a required property")
        self.assert_invalid(self.by_doc_ids("access/disablestate/update", "org", ["a"],
                                            disabled="true"),
                            contains="$.data.disabled")


class GetDocumentsTest(DocumentsTestCase):
    """organizations/documents/get: records, filters, the 30-id limit, pageToken pagination."""

    def setUp(self):
        super().setUp()
        self.ok(self.docs("add", "org", [document("d3", documentName="Three", owner="ann"),
                                         document("d1", documentName="One")]))
        self.ok(self.docs("add", "org", [document("d2", documentName="Two"), document("d4")],
                          folderId="f"))
        self.ok(self.by_doc_ids("access/update", "org", ["d3"], accessType="restricted"))
        self.ok(self.by_doc_ids("access/disablestate/update", "org", ["d4"], disabled=True))

    RECORDS = {
        "d1": {"id": "d1", "documentName": "One", "disabled": False, "accessType": "public"},
        "d2": {"id": "d2", "documentName": "Two", "disabled": False, "accessType": "public",
               "folderId": "f"},
        "d3": {"id": "d3", "documentName": "Three", "disabled": False,
               "accessType": "restricted", "owner": "ann"},
        "d4": {"id": "d4", "disabled": True, "accessType": "public", "folderId": "f"},
    }

    def get(self, version="v2", org="org", **data):
        return self.ok(self.client.api("/%s/organizations/documents/get" % version,
                                       dict(organizationId=org, **data)))

    def pages(self, **data):
        """Follow result.pageToken to the end: the list of pages (lists of ids)."""
        pages, tokens = [], []
        while True:
            result = self.get(**data)
            self.assertNotIn("nextPageToken", result)
            pages.append([record["id"] for record in result["data"]])
            if "pageToken" not in result:
                return pages
            token = result["pageToken"]
            self.assertIsInstance(token, str)
            self.assertNotIn(token, tokens)
            tokens.append(token)
            data["pageToken"] = token
            self.assertLess(len(pages), 20)

    def test_get_all(self):
        result = self.get()
        self.assertEqual(result, {
            "status": "success", "message": "Document(s) retrieved successfully.",
            "data": [self.RECORDS[doc_id] for doc_id in ("d1", "d2", "d3", "d4")]})
        self.assertEqual(list(result["data"][2]),
                         ["id", "documentName", "disabled", "accessType", "owner"])
        self.assertEqual(self.get(documentIds=[]), result)
        self.assertEqual(self.get("v1"), result)

    def test_get_reflects_update_delete_and_implicit_documents(self):
        self.ok(self.docs("update", "org", [document("d1", documentName="Uno", tier=2)]))
        self.ok(self.by_doc_ids("delete", "org", ["d2", "d3", "d4"]))
        self.add_users("org", [user("u")], documentId="d0")
        self.assertEqual(self.get()["data"], [
            {"id": "d0", "disabled": False, "accessType": "public"},
            {"id": "d1", "documentName": "Uno", "disabled": False, "accessType": "public",
             "tier": 2}])

    def test_get_by_ids(self):
        result = self.get(documentIds=["d4", "d1", "d4"])
        self.assertEqual(result["data"], [self.RECORDS["d1"], self.RECORDS["d4"]])
        self.assertNotIn("pageToken", result)

    def test_get_missing_ids_v2_answers_500(self):
        status, answer = self.client.api("/v2/organizations/documents/get", {
            "organizationId": "org", "documentIds": ["d3", "ghost", "d1", "d3"]})
        self.assertEqual((status, answer), (500, {"error": {
            "message": "Error retrieving document(s).", "status": "INTERNAL",
            "details": [self.RECORDS["d3"], missing_document("ghost"), self.RECORDS["d1"]]}}))
        status, answer = self.client.api("/v2/organizations/documents/get", {
            "organizationId": "nope", "documentIds": ["d1"]})
        self.assertEqual((status, answer["error"]["details"]), (500, [missing_document("d1")]))
        # v1 skips unknown ids.
        self.assertEqual(self.get("v1", documentIds=["ghost", "d1"])["data"],
                         [self.RECORDS["d1"]])

    def test_get_by_folder(self):
        self.assertEqual(self.get(folderId="f")["data"], [self.RECORDS["d2"], self.RECORDS["d4"]])
        self.assertEqual(self.get(folderId="f", documentIds=["d4", "d3"])["data"],
                         [self.RECORDS["d4"]])
        self.assertEqual(self.get(folderId="nope")["data"], [])

    def test_unknown_organization_is_empty(self):
        self.assertEqual(self.get(org="nope"), {
            "status": "success", "message": "Document(s) retrieved successfully.", "data": []})
        self.assertEqual(self.get("v1", org="nope")["data"], [])
        self.assertNotIn("nope", self.client.state())

    def test_thirty_id_limit(self):
        ids = ["d%02d" % index for index in range(31)]
        expected = (400, {"error": {"message": "Only 30 documentIds can be passed at a time.",
                                    "status": "INVALID_ARGUMENT"}})
        for version in ("v2", "v1"):
            self.assertEqual(self.client.api("/%s/organizations/documents/get" % version,
                                             {"organizationId": "org", "documentIds": ids}),
                             expected)
        self.assertEqual(self.get("v1", documentIds=ids[:29] + ["d1"])["data"],
                         [self.RECORDS["d1"]])

    def test_pagination_uses_page_token_key(self):
        first = self.get(pageSize=1)
        self.assertEqual(first["data"], [self.RECORDS["d1"]])
        self.assertEqual(list(first), ["status", "message", "data", "pageToken"])
        self.assertEqual(self.pages(pageSize=1), [["d1"], ["d2"], ["d3"], ["d4"]])
        self.assertEqual(self.pages(pageSize=3), [["d1", "d2", "d3"], ["d4"]])
        self.assertEqual(self.pages(pageSize=4), [["d1", "d2", "d3", "d4"]])
        self.assertEqual(self.pages(pageSize=1, folderId="f"), [["d2"], ["d4"]])
        self.assertEqual(self.pages(pageSize=1, documentIds=["d4", "d1", "d3"]),
                         [["d1"], ["d3"], ["d4"]])
        self.assertEqual(self.get(pageSize=2, pageToken=first["pageToken"])["data"],
                         [self.RECORDS["d2"], self.RECORDS["d3"]])

    def test_pagination_cap_v1_and_bad_arguments(self):
        self.client.config(max_page_size=2)
        self.assertEqual(self.pages(), [["d1", "d2"], ["d3", "d4"]])
        result = self.get("v1", pageSize=1, pageToken="not a token")
        self.assertEqual(len(result["data"]), 4)
        self.assertNotIn("pageToken", result)
        self.assertEqual(self.client.api("/v2/organizations/documents/get",
                                         {"organizationId": "org", "pageToken": "nope"}),
                         (400, {"error": {"message": "Invalid pageToken.",
                                          "status": "INVALID_ARGUMENT"}}))
        self.assert_invalid(self.client.api("/v2/organizations/documents/get",
                                            {"organizationId": "org", "pageSize": 0}),
                            contains="$.data.pageSize")
        self.assert_invalid(self.client.api("/v2/organizations/documents/get", {}),
                            contains="'organizationId' is a required property")


class UpdateUsersTest(StandInTestCase):

    def update(self, org, users, version="v2", **scope):
        status, answer = self.client.api("/%s/users/update" % version,
                                         dict(organizationId=org, users=users, **scope))
        self.assertEqual(status, 200, answer)
        return answer["result"]

    def test_update_merges(self):
        added = self.add_users("org", [user("u1", accessRole="viewer", color="red"),
                                       user("u2")])[1]["result"]["data"]
        result = self.update("org", [user("u1", name="bob", email="b@example.com"),
                                     user("ghost")])
        self.assertEqual(result, {"status": "success", "message": "User(s) processed successfully.",
                                  "data": {"u1": {"success": True, "id": added["u1"]["id"],
                                                  "message": "User updated."},
                                           "ghost": {"success": False,
                                                     "id": result["data"]["ghost"]["id"],
                                                     "message": "User does not exist."}}})
        self.assertRegex(result["data"]["ghost"]["id"], HEX32)
        users = self.client.state()["org"]["users"]
        # accessRole and color kept; the new name brings a new initial.
        self.assertEqual(users["u1"], {"userId": "u1", "name": "bob", "email": "b@example.com",
                                       "initial": "B", "accessRole": "viewer", "color": "red"})
        self.assertEqual(users["u2"], dict(user("u2"), initial="N", accessRole="editor"))
        self.assertEqual(set(users), {"u1", "u2"})  # ghost not created
        self.update("org", [user("u1", initial="ZZ", accessRole="editor")], version="v1")
        users = self.client.state()["org"]["users"]
        self.assertEqual((users["u1"]["initial"], users["u1"]["accessRole"]), ("ZZ", "editor"))

    def test_update_at_document_and_folder_scope(self):
        self.add_users("org", [user("u")])
        added = self.add_users("org", [user("u")], documentId="doc")[1]["result"]["data"]
        result = self.update("org", [user("u", name="doc name")], documentId="doc")
        self.assertEqual(result["data"]["u"]["id"], added["u"]["id"])
        org = self.client.state()["org"]
        self.assertEqual(org["documents"]["doc"]["users"]["u"]["name"], "doc name")
        self.assertEqual(org["users"]["u"]["name"], "Name u")  # other scope untouched
        missing = {"success": False, "message": "User does not exist."}
        for scope in ({"folderId": "f"}, {"documentId": "other"}):
            item = self.update("org", [user("u")], **scope)["data"]["u"]
            self.assertEqual({key: item[key] for key in ("success", "message")}, missing)
        item = self.update("nope", [user("u")])["data"]["u"]
        self.assertEqual(item["message"], "User does not exist.")
        self.assertEqual(set(self.client.state()), {"org"})
        self.assertEqual(set(self.client.state()["org"]["documents"]), {"doc"})

    def test_update_validation(self):
        # The spec's User requires name and email also on update.
        answer = self.client.api("/v2/users/update", {"organizationId": "o",
                                                       "users": [{"userId": "u",
                                                                  "accessRole": "viewer"}]})
        self.assert_invalid(answer, contains="$.data.users[0]")
        self.assert_invalid(self.client.api("/v2/users/update", {
            "organizationId": "o", "users": [user("u", accessRole="owner")]}),
            contains="$.data.users[0].accessRole")
        self.assert_invalid(self.client.api("/v2/users/update", {
            "organizationId": "o", "users": [user("u")], "documentId": "d", "folderId": "f"}),
            contains="not both")


class GetUsersTest(StandInTestCase):
    """users/get: scopes, filters, the 30-id limits and nextPageToken pagination."""

    def setUp(self):
        super().setUp()
        self.add_users("org", [user("u3"), user("u1", accessRole="viewer"), user("u4"),
                               user("u2")])
        self.add_users("org", [user("d1"), user("u1")], documentId="doc")
        self.add_users("org", [user("f1")], folderId="fold")
        self.add_group("org", "g1")
        self.add_group("org", "g2")
        for group, members in (("g1", ["u1", "u3"]), ("g2", ["u3", "u4"])):
            self.client.api("/v2/organizations/usergroups/users/add",
                            {"organizationId": "org", "organizationUserGroupId": group,
                             "userIds": members})

    @staticmethod
    def record(user_id, **fields):
        record = dict(user(user_id), initial="N", accessRole="editor")
        record.update(fields)
        return record

    def get(self, version="v2", org="org", **data):
        status, answer = self.client.api("/%s/users/get" % version,
                                         dict(organizationId=org, **data))
        self.assertEqual(status, 200, answer)
        return answer["result"]

    def ids(self, version="v2", **data):
        return [record["userId"] for record in self.get(version, **data)["data"]]

    def test_get_organization_users(self):
        result = self.get()
        self.assertEqual(result, {
            "status": "success", "message": "User(s) retrieved successfully.",
            "data": [self.record("u1", accessRole="viewer"), self.record("u2"),
                     self.record("u3"), self.record("u4")]})
        self.assertEqual(self.get("v1"), result)

    def test_scopes(self):
        self.assertEqual(self.get(documentId="doc")["data"],
                         [self.record("d1"), self.record("u1")])
        self.assertEqual(self.ids(folderId="fold"), ["f1"])
        self.assertEqual(self.ids("v1", documentId="doc"), ["d1", "u1"])
        for data in ({"documentId": "nope"}, {"folderId": "nope"}, {"org": "nope"}):
            self.assertEqual(self.ids(**data), [], data)
        self.assertEqual(set(self.client.state()), {"org"})
        self.assert_invalid(self.client.api("/v2/users/get", {"organizationId": "org",
                                                               "documentId": "doc",
                                                               "folderId": "fold"}),
                            contains="not both")

    def test_filters(self):
        self.assertEqual(self.ids(userIds=["u4", "ghost", "u2", "u4"]), ["u2", "u4"])
        self.assertEqual(self.ids(userIds=[]), ["u1", "u2", "u3", "u4"])
        self.assertEqual(self.ids(organizationUserGroupIds=["g1"]), ["u1", "u3"])
        self.assertEqual(self.ids(organizationUserGroupIds=["g1", "g2", "nope"]),
                         ["u1", "u3", "u4"])
        self.assertEqual(self.ids(organizationUserGroupIds=["g2"], userIds=["u1", "u4"]),
                         ["u4"])
        self.assertEqual(self.ids(organizationUserGroupIds=["g1"], documentId="doc"), ["u1"])
        self.assertEqual(self.ids(organizationUserGroupIds=["nope"]), [])

    def test_thirty_id_limits(self):
        ids = ["x%02d" % index for index in range(31)]
        for key in ("userIds", "organizationUserGroupIds"):
            expected = (400, {"error": {"message": "Only 30 %s can be passed at a time." % key,
                                        "status": "INVALID_ARGUMENT"}})
            for version in ("v2", "v1"):
                self.assertEqual(self.client.api("/%s/users/get" % version,
                                                 {"organizationId": "org", key: ids}),
                                 expected)
        self.assertEqual(self.ids(userIds=ids[:29] + ["u2"]), ["u2"])

    def test_pagination_uses_next_page_token_key(self):
        pages, data = [], {"pageSize": 1}
        while True:
            result = self.get(**data)
            self.assertNotIn("pageToken", result)
            pages.append([record["userId"] for record in result["data"]])
            if "nextPageToken" not in result:
                break
            self.assertEqual(list(result), ["status", "message", "data", "nextPageToken"])
            data["pageToken"] = result["nextPageToken"]
            self.assertLess(len(pages), 20)
        self.assertEqual(pages, [["u1"], ["u2"], ["u3"], ["u4"]])
        self.client.config(max_page_size=3)
        first = self.get()
        self.assertEqual(len(first["data"]), 3)
        self.assertEqual(self.ids(pageToken=first["nextPageToken"]), ["u4"])
        v1 = self.get("v1", pageSize=1, pageToken="not a token")
        self.assertEqual(len(v1["data"]), 4)
        self.assertNotIn("nextPageToken", v1)
        self.assertEqual(self.client.api("/v2/users/get", {"organizationId": "org",
                                                            "pageToken": "nope"})[0], 400)

    def test_unsupported_and_invalid_arguments(self):
        self.assertEqual(self.client.api("/v2/users/get", {"organizationId": "org",
                                                            "allDocuments": True}),
                         (501, {"error": {"message": "allDocuments is not supported by the "
                                                     "stand-in.",
                                          "status": "UNIMPLEMENTED"}}))
        self.assertEqual(self.ids(allDocuments=False, groupByDocumentId=True), ["u1", "u2", "u3",
                                                                               "u4"])
        self.assert_invalid(self.client.api("/v2/users/get", {}),
                            contains="'organizationId' is a required property")
        self.assert_invalid(self.client.api("/v2/users/get", {"organizationId": "org",
                                                               "pageSize": 0}),
                            contains="$.data.pageSize")


# ---- folders, move, auth, GDPR -------------------------------------------------------------

FOLDER_MISSING = "Folder not found."


def folder_missing(folder_id):
    return {"success": False, "id": folder_id, "message": FOLDER_MISSING, "code": "not-found"}


def without_times(record):
    """A folders/get record (with its subFolders) minus createdAt/lastUpdated, checked as ints."""
    record = dict(record)
    for key in ("createdAt", "lastUpdated"):
        assert isinstance(record.pop(key), int), record
    if "subFolders" in record:
        record["subFolders"] = [without_times(child) for child in record["subFolders"]]
    return record


class FoldersTestCase(StandInTestCase):

    def folders(self, action, org, folders, version="v2", **extra):
        return self.client.api("/%s/organizations/folders/%s" % (version, action),
                               dict(organizationId=org, folders=folders, **extra))

    def ok(self, answer):
        status, payload = answer
        self.assertEqual(status, 200, payload)
        return payload["result"]

    def get(self, version="v2", org="org", **data):
        result = self.ok(self.client.api("/%s/organizations/folders/get" % version,
                                         dict(organizationId=org, **data)))
        return result["message"], [without_times(record) for record in result["data"]]

    def folder_details(self, org="org"):
        return self.client.control("GET", "state")[1].get("folderDetails", {}).get(org, {})


def v2_folder(folder_id, parent="root", ancestors=("root",), access="public", inherit=False,
              **extra):
    record = {"folderId": folder_id}
    if "folderName" in extra:
        record["folderName"] = extra.pop("folderName")
    record.update({"organizationId": "org", "parentFolderId": parent, "apiKey": API_KEY,
                   "ancestors": list(ancestors), "accessType": access,
                   "inheritAccessFromParent": inherit})
    record.update(extra)
    return record


class FoldersWriteTest(FoldersTestCase):
    """organizations/folders/add, update, delete and access/update."""

    def test_add_folders(self):
        result = self.ok(self.folders("add", "org", [
            {"folderId": "f1", "folderName": "One", "color": "red"},
            {"folderId": "f2", "parentFolderId": "f1"},
            {"folderId": "f3", "parentFolderId": "root", "accessType": "restricted"}],
            createOrganization=True))
        self.assertEqual(result, {"status": "success", "message": "Folder created successfully.",
                                  "data": {folder_id: {"success": True, "id": folder_id,
                                                       "message": "Folder added."}
                                           for folder_id in ("f1", "f2", "f3")}})
        # "organizations" keeps the original folder shape; the rest is in "folderDetails".
        self.assertEqual(self.client.state()["org"]["folders"],
                         {"f1": {"users": {}}, "f2": {"users": {}}, "f3": {"users": {}}})
        details = self.folder_details()
        self.assertEqual({key: value for key, value in details["f1"].items()
                          if key not in ("createdAt", "lastUpdated")},
                         {"metadata": {"folderName": "One", "color": "red"},
                          "parentFolderId": "root", "accessType": "public",
                          "inheritAccessFromParent": False})
        self.assertEqual((details["f2"]["parentFolderId"], details["f2"]["inheritAccessFromParent"],
                          details["f3"]["accessType"]), ("f1", True, "restricted"))
        self.assertEqual(self.client.details()["org"], {"metadata": {}, "disabled": False})
        self.assertEqual(self.ok(self.folders("add", "v1org", [{"folderId": "x"}], "v1"))["data"],
                         {"x": {"success": True, "id": "x", "message": "Folder added."}})

    def test_add_failures_are_inline(self):
        result = self.ok(self.folders("add", "org", [
            {"folderId": "a", "parentFolderId": "ghost"}, {"folderId": "root"},
            {"folderId": "p"}, {"folderId": "c", "parentFolderId": "p"},
            {"folderId": "p", "folderName": "again"},
            {"folderId": "self", "parentFolderId": "self"}]))
        self.assertEqual(result["data"], {
            "a": {"success": False, "id": "a", "message": "Parent folder not found.",
                  "code": "not-found"},
            "root": {"success": False, "id": "root",
                     "message": '"root" cannot be used as a folderId.'},
            "p": {"success": True, "id": "p", "message": "Folder added."},
            "c": {"success": True, "id": "c", "message": "Folder added."},
            "self": {"success": False, "id": "self", "message": "Parent folder not found.",
                     "code": "not-found"}})
        self.assertEqual(sorted(self.client.state()["org"]["folders"]), ["c", "p"])
        self.assertEqual(self.folder_details()["p"]["metadata"], {})  # the repeat was skipped
        # Re-adding a folder under its own subfolder is refused.
        self.assertEqual(self.ok(self.folders("add", "org", [
            {"folderId": "p", "parentFolderId": "c"}]))["data"]["p"],
            {"success": False, "id": "p",
             "message": "A folder cannot be moved into itself or one of its subfolders."})

    def test_add_upserts_implicit_and_existing_folders(self):
        self.add_users("org", [user("fu")], folderId="f")
        self.ok(self.client.api("/v2/organizations/documents/add", {
            "organizationId": "org", "folderId": "f", "documents": [{"documentId": "d"}]}))
        self.ok(self.folders("add", "org", [{"folderId": "f", "folderName": "F",
                                             "accessType": "organizationPrivate"}]))
        self.ok(self.folders("add", "org", [{"folderId": "f", "folderName": "F2"}]))
        state = self.client.state()["org"]
        self.assertEqual(list(state["folders"]["f"]["users"]), ["fu"])
        self.assertIn("d", state["documents"])
        details = self.folder_details()["f"]
        self.assertEqual((details["metadata"], details["accessType"]),
                         ({"folderName": "F2"}, "organizationPrivate"))

    def test_add_and_update_validation(self):
        self.assert_invalid(self.folders("add", "org", [{"folderName": "x"}]),
                            contains="$.data.folders[0]")
        self.assert_invalid(self.folders("add", "org", [{"folderId": "x", "accessType": "open"}]),
                            contains="$.data.folders[0].accessType")
        self.assert_invalid(self.client.api("/v2/organizations/folders/add", {"folders": []}),
                            contains="'organizationId' is a required property")
        self.assert_invalid(self.folders("update", "org", [{"folderId": 3}]),
                            contains="$.data.folders[0].folderId")
        self.assertEqual(self.client.state(), {})

    def test_update_merges_and_moves(self):
        self.ok(self.folders("add", "org", [
            {"folderId": "a", "folderName": "A", "accessType": "restricted"},
            {"folderId": "b", "folderName": "B", "tier": 1},
            {"folderId": "c", "parentFolderId": "b"}]))
        result = self.ok(self.folders("update", "org", [
            {"folderId": "b", "folderName": "Bee", "parentFolderId": "a"},
            {"folderId": "ghost", "folderName": "G"}]))
        self.assertEqual(result, {"status": "success", "message": "Folder Updated successfully.",
                                  "data": {"b": {"success": True, "id": "b",
                                                 "message": "Folder Updated."},
                                           "ghost": folder_missing("ghost")}})
        _message, records = self.get(folderId="a", maxDepth=3)
        self.assertEqual(records, [v2_folder("a", access="restricted", folderName="A", subFolders=[
            v2_folder("b", "a", ("root", "a"), folderName="Bee", tier=1, subFolders=[
                v2_folder("c", "b", ("root", "a", "b"), inherit=True, subFolders=[])])])])
        self.assertNotIn("ghost", self.client.state()["org"]["folders"])
        result = self.ok(self.folders("update", "org", [
            {"folderId": "a", "parentFolderId": "c"}, {"folderId": "c", "parentFolderId": "nope"},
            {"folderId": "b", "parentFolderId": "root", "accessType": "public"}]))
        self.assertEqual(result["data"], {
            "a": {"success": False, "id": "a",
                  "message": "A folder cannot be moved into itself or one of its subfolders."},
            "c": {"success": False, "id": "c", "message": "Parent folder not found.",
                  "code": "not-found"},
            "b": {"success": True, "id": "b", "message": "Folder Updated."}})
        self.assertEqual(self.folder_details()["b"]["parentFolderId"], "root")
        self.assertEqual(self.ok(self.folders("update", "nope", [{"folderId": "a"}], "v1"))["data"],
                         {"a": folder_missing("a")})
        self.assertNotIn("nope", self.client.state())

    def test_delete_folder_cascades(self):
        self.ok(self.folders("add", "org", [{"folderId": "top"}, {"folderId": "sub",
                                                                   "parentFolderId": "top"},
                                            {"folderId": "other"}]))
        for folder_id, doc_id in (("sub", "d-sub"), ("top", "d-top"), ("other", "d-other")):
            self.ok(self.client.api("/v2/organizations/documents/add", {
                "organizationId": "org", "folderId": folder_id,
                "documents": [{"documentId": doc_id}]}))
        self.add_users("org", [user("du")], documentId="d-sub")
        self.add_users("org", [user("fu")], folderId="sub")
        self.add_users("org", [user("ou")])
        answer = self.client.api("/v2/organizations/folders/delete",
                                 {"organizationId": "org", "folderId": "top"})
        self.assertEqual(answer, (200, {"result": {
            "status": "success", "message": "Folder deletion initiated successfully.",
            "data": None}}))
        state = self.client.state()["org"]
        self.assertEqual((sorted(state["folders"]), sorted(state["documents"]),
                          sorted(state["users"])), (["other"], ["d-other"], ["ou"]))
        self.assertEqual(sorted(self.folder_details()), ["other"])
        not_found = (404, {"error": {"code": "not-found", "message": "Folder not found."}})
        self.assertEqual(self.client.api("/v2/organizations/folders/delete",
                                         {"organizationId": "org", "folderId": "top"}), not_found)
        self.assertEqual(self.client.api("/v2/organizations/folders/delete",
                                         {"organizationId": "nope", "folderId": "x"}), not_found)
        self.assertEqual(self.client.requests()[-1]["error"],
                         {"code": "not-found", "message": "Folder not found."})
        # v2 only; and the schema wants one folderId string.
        self.assertEqual(self.client.api("/v1/organizations/folders/delete",
                                         {"organizationId": "org", "folderId": "other"}),
                         (404, {"error": {"message": "Not found: /v1/organizations/folders/delete",
                                          "status": "NOT_FOUND"}}))
        self.assert_invalid(self.client.api("/v2/organizations/folders/delete",
                                            {"organizationId": "org", "folderId": ["other"]}),
                            contains="$.data.folderId")
        self.assertIn("other", self.client.state()["org"]["folders"])

    def test_update_access(self):
        self.ok(self.folders("add", "org", [{"folderId": "p"}, {"folderId": "c",
                                                                 "parentFolderId": "p"}]))
        path = "/v2/organizations/folders/access/update"
        result = self.ok(self.client.api(path, {"organizationId": "org", "folderIds": ["p", "x"],
                                                "accessType": "organizationPrivate"}))
        self.assertEqual(result, {
            "status": "success", "message": "Updated access for folders successfully.",
            "data": {"p": {"success": True, "accessType": "organizationPrivate",
                           "message": "Folder access type updated."},
                     "x": folder_missing("x")}})
        # c inherits from p: it shows p's access type.
        self.assertEqual([record["accessType"] for record in self.get()[1]],
                         ["organizationPrivate", "organizationPrivate"])
        self.ok(self.client.api(path, {"organizationId": "org", "folderIds": ["c"],
                                       "accessType": "restricted"}))
        self.assertEqual([(record["accessType"], record["inheritAccessFromParent"])
                          for record in self.get()[1]],
                         [("restricted", False), ("organizationPrivate", False)])
        result = self.ok(self.client.api(path, {"organizationId": "org", "folderIds": ["c"],
                                                "inheritFromParent": True}))
        self.assertEqual(result, {"status": "success", "message": "Folder access type updated.",
                                  "data": {"c": {"success": True, "accessType": None,
                                                 "inheritFromParent": True,
                                                 "message": "Folder access type updated."}}})
        self.assertEqual([(record["accessType"], record["inheritAccessFromParent"])
                          for record in self.get()[1]],
                         [("organizationPrivate", True), ("organizationPrivate", False)])
        self.ok(self.client.api(path.replace("v2", "v1"), {
            "organizationId": "org", "folderIds": ["p"], "accessType": "public"}))
        self.assertEqual(self.folder_details()["p"]["accessType"], "public")

    def test_update_access_validation(self):
        path = "/v2/organizations/folders/access/update"
        base = {"organizationId": "org", "folderIds": ["p"]}
        self.assertEqual(self.client.api(path, base), (400, {"error": {
            "message": "Provide accessType or inheritFromParent: true.",
            "status": "INVALID_ARGUMENT"}}))
        self.assertEqual(self.client.api(path, dict(base, inheritFromParent=False)), (400, {
            "error": {"message": "Provide accessType or inheritFromParent: true.",
                      "status": "INVALID_ARGUMENT"}}))
        self.assertEqual(self.client.api(path, dict(base, accessType="public",
                                                    inheritFromParent=True)),
                         (400, {"error": {"message": "Provide either accessType or "
                                                     "inheritFromParent: true, not both.",
                                          "status": "INVALID_ARGUMENT"}}))
        self.assert_invalid(self.client.api(path, dict(base, accessType="open")),
                            contains="$.data.accessType")
        self.assert_invalid(self.client.api(path, dict(base, folderIds=[], accessType="public")),
                            contains="$.data.folderIds")


class GetFoldersTest(FoldersTestCase):

    def setUp(self):
        super().setUp()
        self.ok(self.folders("add", "org", [
            {"folderId": "b", "folderName": "B", "accessType": "restricted"},
            {"folderId": "a", "folderName": "A", "owner": "ann"},
            {"folderId": "a1", "parentFolderId": "a"},
            {"folderId": "a11", "parentFolderId": "a1"},
            {"folderId": "a111", "parentFolderId": "a11"}]))

    A = v2_folder("a", folderName="A", owner="ann")
    A1 = v2_folder("a1", "a", ("root", "a"), inherit=True)
    A11 = v2_folder("a11", "a1", ("root", "a", "a1"), inherit=True)
    A111 = v2_folder("a111", "a11", ("root", "a", "a1", "a11"), inherit=True)
    B = v2_folder("b", folderName="B", access="restricted")

    def test_get_all_is_flat_and_unpaged(self):
        self.client.config(max_page_size=1)  # no pagination on this endpoint
        message, records = self.get()
        self.assertEqual(message, "Folders retrieved successfully.")
        self.assertEqual(records, [self.A, self.A1, self.A11, self.A111, self.B])
        status, answer = self.client.api("/v2/organizations/folders/get", {"organizationId": "org"})
        self.assertEqual(list(answer["result"]), ["status", "message", "data"])
        self.assertEqual(list(answer["result"]["data"][0]), [
            "folderId", "folderName", "organizationId", "parentFolderId", "apiKey", "createdAt",
            "lastUpdated", "ancestors", "accessType", "inheritAccessFromParent", "owner"])

    def test_get_all_v1_records_are_lean(self):
        message, records = self.get("v1")
        self.assertEqual(message, "Folders retrieved successfully.")
        self.assertEqual(records[0], {"folderId": "a", "folderName": "A", "organizationId": "org",
                                      "parentFolderId": "root", "owner": "ann"})
        self.assertEqual(records[2], {"folderId": "a11", "organizationId": "org",
                                      "parentFolderId": "a1"})

    def test_get_one_with_subfolders_and_max_depth(self):
        self.assertEqual(self.get(folderId="a"), ("Folder(s) retrieved successfully.", [
            dict(self.A, subFolders=[self.A1])]))
        self.assertEqual(self.get(folderId="a", maxDepth=3)[1], [dict(self.A, subFolders=[
            dict(self.A1, subFolders=[dict(self.A11, subFolders=[self.A111])])])])
        self.assertEqual(self.get(folderId="a", maxDepth=10)[1][0]["subFolders"][0]
                         ["subFolders"][0]["subFolders"][0],
                         dict(self.A111, subFolders=[]))
        self.assertEqual(self.get(folderId="b")[1], [dict(self.B, subFolders=[])])
        # v1: always one level, its own message.
        message, records = self.get("v1", folderId="a", maxDepth=3)
        self.assertEqual(message, "Folders retrieved successfully.")
        self.assertEqual(records[0]["subFolders"], [{"folderId": "a1", "organizationId": "org",
                                                     "parentFolderId": "a"}])

    def test_unknown_folder_or_organization_is_empty(self):
        self.assertEqual(self.get(folderId="ghost"), ("Folder(s) retrieved successfully.", []))
        self.assertEqual(self.get(org="nope"), ("Folders retrieved successfully.", []))
        self.assertNotIn("nope", self.client.state())

    def test_validation(self):
        path = "/v2/organizations/folders/get"
        self.assert_invalid(self.client.api(path, {}), contains="'organizationId' is a required")
        self.assert_invalid(self.client.api(path, {"organizationId": "org", "maxDepth": 0}),
                            contains="$.data.maxDepth")
        self.assert_invalid(self.client.api(path, {"organizationId": "org", "folderId": 1}),
                            contains="$.data.folderId")


class MoveDocumentsTest(StandInTestCase):

    def setUp(self):
        super().setUp()
        self.client.api("/v2/organizations/folders/add", {
            "organizationId": "org", "folders": [{"folderId": "f"}, {"folderId": "g"}]})
        self.client.api("/v2/organizations/documents/add", {
            "organizationId": "org", "folderId": "f",
            "documents": [{"documentId": "d1"}, {"documentId": "d2"}, {"documentId": "d3"}]})

    def move(self, doc_ids, folder_id, version="v2", org="org"):
        return self.client.api("/%s/organizations/documents/move" % version,
                               {"organizationId": org, "documentIds": doc_ids,
                                "folderId": folder_id})

    def folder_of(self):
        documents = self.client.state()["org"]["documents"]
        return {doc_id: doc["folderId"] for doc_id, doc in sorted(documents.items())}

    def test_move(self):
        self.assertEqual(self.move(["d1", "d2", "d1"], "g"), (200, {"result": {
            "status": "success", "message": "Documents moved successfully."}}))
        self.assertEqual(self.folder_of(), {"d1": "g", "d2": "g", "d3": "f"})
        status, answer = self.client.api("/v2/organizations/documents/get",
                                         {"organizationId": "org", "folderId": "g"})
        self.assertEqual([record["id"] for record in answer["result"]["data"]], ["d1", "d2"])
        # "root" takes documents out of every folder; v1 answers alike.
        self.assertEqual(self.move(["d3"], "root", "v1"), (200, {"result": {
            "status": "success", "message": "Documents moved successfully."}}))
        self.assertEqual(self.folder_of(), {"d1": "g", "d2": "g", "d3": None})

    def test_unknown_documents_or_folder_move_nothing(self):
        self.assertEqual(self.move(["d1", "ghost", "d2"], "g"), (404, {"error": {
            "message": "Error moving document(s).", "status": "NOT_FOUND",
            "details": [{"success": False, "id": "ghost", "message": "Document does not exist",
                         "code": "not-found"}]}}))
        self.assertEqual(self.move(["d1"], "nope"), (404, {"error": {
            "message": "Folder not found.", "status": "NOT_FOUND"}}))
        self.assertEqual(self.move(["d1"], "g", org="nope")[1]["error"]["details"][0]["id"], "d1")
        self.assertEqual(self.folder_of(), {"d1": "f", "d2": "f", "d3": "f"})
        self.assertNotIn("nope", self.client.state())

    def test_validation_and_thirty_id_limit(self):
        ids = ["d%02d" % index for index in range(31)]
        for version in ("v2", "v1"):
            self.assertEqual(self.move(ids, "g", version), (400, {"error": {
                "message": "Only 30 documentIds can be passed at a time.",
                "status": "INVALID_ARGUMENT"}}))
        self.assert_invalid(self.move([], "g"), contains="$.data.documentIds")
        self.assert_invalid(self.client.api("/v2/organizations/documents/move", {
            "organizationId": "org", "documentIds": ["d1"]}), contains="'folderId' is a required")
        self.assertEqual(self.folder_of(), {"d1": "f", "d2": "f", "d3": "f"})


def jwt_parts(token):
    """(header, claims) of a stand-in token, after checking its three base64url segments."""
    segments = token.split(".")
    assert len(segments) == 3 and all(re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in segments)
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decode(segments[0]), decode(segments[1])


RESOURCES = [{"type": "organization", "id": "org", "accessRole": "viewer"},
             {"type": "document", "id": "d", "organizationId": "org", "expiresAt": 1640995200}]


class TokenTest(StandInTestCase):
    """v1 auth/token/get (credentials in the body) and v2 auth/generate_token."""

    def v1_token(self, **data):
        body = dict({"apiKey": API_KEY, "authToken": AUTH_TOKEN, "userId": "u"}, **data)
        return self.client.api("/v1/auth/token/get", body, headers={})

    def v2_token(self, **data):
        body = dict({"userId": "u", "userProperties": {"name": "U", "email": "u@x.test"},
                     "permissions": {"resources": RESOURCES}}, **data)
        return self.client.api("/v2/auth/generate_token", body)

    def test_v1_token(self):
        status, answer = self.v1_token(userProperties={"organizationId": "org", "isAdmin": True})
        self.assertEqual(status, 200)
        self.assertEqual(set(answer), {"result"})
        self.assertEqual((answer["result"]["status"], answer["result"]["message"],
                          list(answer["result"]["data"])),
                         ("success", "Token generated successfully.", ["token"]))
        header, claims = jwt_parts(answer["result"]["data"]["token"])
        self.assertEqual(header, {"alg": "HS256", "typ": "JWT"})
        self.assertEqual(claims, {"iss": "velt-standin", "n": 1, "userId": "u",
                                  "userProperties": {"organizationId": "org", "isAdmin": True}})
        self.assertTrue(answer["result"]["data"]["token"].startswith(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."))
        entry = self.client.requests()[0]
        self.assertEqual(entry["auth"], "ok")
        self.assertEqual(entry["body"]["data"]["apiKey"], "[redacted]")
        self.assertNotIn(AUTH_TOKEN, json.dumps(self.client.requests()))
        self.assertEqual(self.client.control("GET", "state")[1]["tokensIssued"], 1)

    def test_tokens_are_deterministic_and_distinct(self):
        first, second = (self.v1_token()[1]["result"]["data"]["token"] for _ in range(2))
        self.assertNotEqual(first, second)
        self.assertEqual(jwt_parts(second)[1]["n"], 2)
        self.client.control("POST", "reset")
        self.assertEqual(self.v1_token()[1]["result"]["data"]["token"], first)

    def test_v1_credentials(self):
        expected = (400, {"error": {"message": "Auth token not found.",
                                    "status": "INVALID_ARGUMENT"}})
        self.assertEqual(self.v1_token(authToken="wrong"), expected)
        self.assertEqual(self.v1_token(apiKey="wrong"), expected)
        self.assertEqual(self.client.api("/v1/auth/token/get", {"userId": "u"}, headers=AUTH),
                         expected)  # headers do not count here
        self.assertEqual([entry["auth"] for entry in self.client.requests()],
                         ["wrong", "wrong", "missing"])
        self.assert_invalid(self.v1_token(userId=None), contains="$.data.userId")
        self.assert_invalid(self.v1_token(userProperties={"isAdmin": True}),
                            contains="'organizationId' is a required property")
        self.assertEqual(self.client.api("/v2/auth/token/get", {"userId": "u"})[0], 404)
        self.assertNotIn("tokensIssued", self.client.control("GET", "state")[1])

    def test_v2_generate_token(self):
        status, answer = self.v2_token()
        self.assertEqual((status, answer["result"]["message"]),
                         (200, "Token generated successfully."))
        _header, claims = jwt_parts(answer["result"]["data"]["token"])
        self.assertEqual(claims, {"iss": "velt-standin", "n": 1, "userId": "u",
                                  "userProperties": {"name": "U", "email": "u@x.test"},
                                  "permissions": {"resources": RESOURCES}})
        self.assertNotIn("permissions", self.client.control("GET", "state")[1])  # not stored
        self.assertEqual(self.client.api("/v1/auth/generate_token", {"userId": "u"})[0], 404)

    def test_v2_generate_token_validation(self):
        status, _response, raw = self.client.raw(
            "POST", "/v2/auth/generate_token",
            {"userId": "u", "userProperties": {"name": "U", "email": "e"},
             "permissions": {"resources": []}}, AUTH)
        self.assert_invalid((status, json.loads(raw)), contains='"data" object')
        self.assert_invalid(self.v2_token(userProperties={"name": "U"}),
                            contains="$.data.userProperties: 'email' is a required property")
        self.assert_invalid(self.v2_token(permissions={"resources": [{"type": "folder",
                                                                      "id": "f"}]}),
                            contains="$.data.permissions.resources[0]: 'organizationId'")
        self.assert_invalid(self.v2_token(permissions={"resources": [{"type": "group",
                                                                      "id": "f"}]}),
                            contains="$.data.permissions.resources[0].type")
        self.assertEqual(self.v2_token(userProperties={"name": "U", "email": "e",
                                                       "organizationId": "org"}),
                         (400, {"error": {"message": 'userProperties.organizationId is not '
                                          'supported; grant organizations with a '
                                          'permissions.resources entry of type "organization".',
                                          "status": "INVALID_ARGUMENT"}}))
        self.assertEqual(self.client.api("/v2/auth/generate_token", {"userId": "u"}, headers={}),
                         (400, {"error": {"message": "API key not found in headers.",
                                          "status": "INVALID_ARGUMENT"}}))


class PermissionsTest(StandInTestCase):

    def setUp(self):
        super().setUp()
        self.client.api("/v2/organizations/folders/add", {
            "organizationId": "org", "folders": [{"folderId": "f", "accessType": "restricted"},
                                                 {"folderId": "f1", "parentFolderId": "f"}]})
        self.client.api("/v2/organizations/documents/add", {
            "organizationId": "org", "folderId": "f1", "documents": [
                {"documentId": "in-f1", "accessType": "restricted"}]})
        self.client.api("/v2/organizations/documents/add", {
            "organizationId": "org", "documents": [
                {"documentId": "pub"}, {"documentId": "priv"},
                {"documentId": "res", "accessType": "restricted"}]})
        # The spec's Document allows only public/restricted in documents/add.
        self.client.api("/v2/organizations/documents/access/update", {
            "organizationId": "org", "documentIds": ["priv"], "accessType": "organizationPrivate"})
        self.assertEqual(len(self.client.state()["org"]["documents"]), 4)

    def add(self, user_id, resources):
        return self.client.api("/v2/auth/permissions/add", {
            "user": {"userId": user_id}, "permissions": {"resources": resources}})

    def remove(self, user_id, resources):
        return self.client.api("/v2/auth/permissions/remove", {
            "userId": user_id, "permissions": {"resources": resources}})

    def get(self, user_ids, **data):
        return self.client.api("/v2/auth/permissions/get",
                               dict(organizationId="org", userIds=user_ids, **data))

    def test_add_get_remove(self):
        answer = self.add("u", [{"type": "organization", "id": "org", "accessRole": "viewer"},
                                {"type": "folder", "id": "f", "organizationId": "org",
                                 "expiresAt": 4102444800},
                                {"type": "document", "id": "res", "organizationId": "org"}])
        self.assertEqual(answer, (200, {"result": {"status": "success",
                                                   "message": "Permissions added successfully."}}))
        self.assertEqual(self.client.control("GET", "state")[1]["permissions"], {"u": [
            {"type": "document", "id": "res", "organizationId": "org", "accessRole": "editor"},
            {"type": "folder", "id": "f", "organizationId": "org", "accessRole": "editor",
             "expiresAt": 4102444800},
            {"type": "organization", "id": "org", "organizationId": "org",
             "accessRole": "viewer"}]})
        status, answer = self.get(["u"], folderIds=["f1"], documentIds=["res", "in-f1", "pub"])
        self.assertEqual((status, answer), (200, {"result": {
            "status": "success", "message": "User permissions retrieved successfully.",
            "data": {"u": {
                "folders": {"f1": {"accessRole": "editor", "accessType": "restricted",
                                   "expiresAt": 4102444800}},
                "documents": {
                    "res": {"accessRole": "editor", "accessType": "restricted"},
                    "in-f1": {"accessRole": "editor", "accessType": "restricted",
                              "expiresAt": 4102444800},
                    "pub": {"accessRole": "viewer", "accessType": "public"}},
                "organization": {"org": {"accessRole": "viewer"}}}}}}))
        self.assertEqual(self.remove("u", [{"type": "folder", "id": "f"},
                                           {"type": "document", "id": "res",
                                            "organizationId": "org"},
                                           {"type": "document", "id": "never",
                                            "organizationId": "org"}]),
                         (200, {"result": {"status": "success",
                                           "message": "Permissions removed successfully."}}))
        documents = self.get(["u"], documentIds=["res", "priv"])[1]["result"]["data"]["u"]
        self.assertEqual(documents["documents"], {
            "res": {"error": "User does not have access to document",
                    "errorCode": "permission_denied", "accessType": "restricted"},
            "priv": {"accessRole": "viewer", "accessType": "organizationPrivate"}})
        self.remove("u", [{"type": "organization", "id": "org"}])
        self.assertNotIn("permissions", self.client.control("GET", "state")[1])

    def test_synced_users_and_denials(self):
        self.add_users("org", [user("member", accessRole="viewer")])
        self.add_users("org", [user("doc-user")], documentId="res")
        self.add_users("org", [user("folder-user")], folderId="f")
        self.add("expired", [{"type": "organization", "id": "org", "expiresAt": 1000}])
        status, answer = self.get(["member", "doc-user", "folder-user", "stranger", "expired"],
                                  folderIds=["f"], documentIds=["pub", "priv", "res", "in-f1"])
        self.assertEqual(status, 200)
        data = answer["result"]["data"]
        denied = lambda kind, access: {"error": "User does not have access to " + kind,
                                       "errorCode": "permission_denied", "accessType": access}
        no_org = {"org": {"error": "User does not have access to organization",
                          "errorCode": "permission_denied"}}
        self.assertEqual(data["member"], {
            "folders": {"f": denied("folder", "restricted")},
            "documents": {"pub": {"accessRole": "viewer", "accessType": "public"},
                          "priv": {"accessRole": "viewer", "accessType": "organizationPrivate"},
                          "res": denied("document", "restricted"),
                          "in-f1": denied("document", "restricted")},
            "organization": {"org": {"accessRole": "viewer"}}})
        self.assertEqual(data["doc-user"]["documents"]["res"],
                         {"accessRole": "editor", "accessType": "restricted"})
        self.assertEqual(data["doc-user"]["organization"], no_org)
        self.assertEqual(data["folder-user"]["folders"]["f"],
                         {"accessRole": "editor", "accessType": "restricted"})
        self.assertEqual(data["folder-user"]["documents"]["in-f1"],
                         {"accessRole": "editor", "accessType": "restricted"})
        for user_id in ("stranger", "expired"):
            self.assertEqual(data[user_id], {
                "folders": {"f": denied("folder", "restricted")},
                "documents": {"pub": {"accessRole": "editor", "accessType": "public"},
                              "priv": denied("document", "organizationPrivate"),
                              "res": denied("document", "restricted"),
                              "in-f1": denied("document", "restricted")},
                "organization": no_org})
        # Without folderIds/documentIds only the organization is reported.
        self.assertEqual(self.get(["member"])[1]["result"]["data"],
                         {"member": {"organization": {"org": {"accessRole": "viewer"}}}})

    def test_missing_resource_is_not_found(self):
        self.add("u", [{"type": "organization", "id": "org"}])
        status, answer = self.get(["u"], folderIds=["ghost-f"], documentIds=["pub", "ghost"])
        self.assertEqual((status, answer), (404, {"error": {
            "message": "Folder or document does not exist", "status": "NOT_FOUND",
            "details": {"u": {
                "folders": {"ghost-f": {"error": "Folder does not exist",
                                        "errorCode": "does_not_exist"}},
                "documents": {"pub": {"accessRole": "editor", "accessType": "public"},
                              "ghost": {"error": "Document does not exist",
                                        "errorCode": "does_not_exist"}},
                "organization": {"org": {"accessRole": "editor"}}}}}}))

    def test_validation_and_versions(self):
        self.assert_invalid(self.add("u", [{"type": "document", "id": "d"}]),
                            contains="$.data.permissions.resources[0]: 'organizationId'")
        self.assert_invalid(self.add("u", [{"type": "folder", "id": "f", "accessRole": "owner"}]),
                            contains="$.data.permissions.resources[0]")
        self.assert_invalid(self.client.api("/v2/auth/permissions/add", {
            "userId": "u", "permissions": {"resources": []}}), contains="'user' is a required")
        self.assert_invalid(self.remove("u", [{"type": "document", "id": "d"}]),
                            contains="'organizationId' is a required property")
        self.assertEqual(self.remove("u", [{"type": "folder", "id": "f"}])[0], 200)
        self.assert_invalid(self.get([]), contains="$.data.userIds")
        self.assert_invalid(self.client.api("/v2/auth/permissions/get", {"userIds": ["u"]}),
                            contains="'organizationId' is a required property")
        for action in ("add", "get", "remove"):
            self.assertEqual(self.client.api("/v1/auth/permissions/" + action, {})[0], 404)
        self.assertNotIn("permissions", self.client.control("GET", "state")[1])


class GdprTest(StandInTestCase):

    def setUp(self):
        super().setUp()
        for org in ("o1", "o2"):
            self.add_users(org, [user("u"), user("other")])
            self.add_group(org, "g", "G")
            self.client.api("/v2/organizations/usergroups/users/add", {
                "organizationId": org, "organizationUserGroupId": "g", "userIds": ["u"]})
        self.add_users("o1", [user("u", accessRole="viewer")], documentId="d")
        self.add_users("o1", [user("u")], folderId="f")
        self.client.api("/v2/auth/permissions/add", {"user": {"userId": "u"}, "permissions": {
            "resources": [{"type": "organization", "id": "o1"},
                          {"type": "document", "id": "d", "organizationId": "o1"},
                          {"type": "organization", "id": "o2"}]}})

    def data(self, version="v2", org="o1", user_id="u", **extra):
        return self.client.api("/%s/users/data/get" % version,
                               dict(organizationId=org, userId=user_id, **extra))

    STORED = dict(user("u"), initial="N", accessRole="editor")

    def test_get_user_data(self):
        status, answer = self.data()
        self.assertEqual((status, answer), (200, {"result": {
            "status": "success", "message": "Data fetched successfully.",
            "data": {
                "comments": [], "reactions": [], "recordings": [], "notifications": [],
                "users": [
                    {"organizationId": "o1", "user": self.STORED},
                    {"organizationId": "o1", "folderId": "f", "user": self.STORED},
                    {"organizationId": "o1", "documentId": "d",
                     "user": dict(self.STORED, accessRole="viewer")}],
                "organizationUserGroups": [{"organizationId": "o1", "groupId": "g",
                                            "groupName": "G"}],
                "permissions": [
                    {"type": "document", "id": "d", "organizationId": "o1",
                     "accessRole": "editor"},
                    {"type": "organization", "id": "o1", "organizationId": "o1",
                     "accessRole": "editor"}]},
            "nextPageToken": None}}))
        self.assertEqual(self.data("v1"), (status, answer))
        self.assertEqual(self.data(user_id="nobody")[1]["result"]["data"], {
            feature: [] for feature in ("comments", "reactions", "recordings", "notifications",
                                        "users", "organizationUserGroups", "permissions")})

    def test_pagination(self):
        self.client.config(max_page_size=1)
        pages, token = [], None
        for _ in range(5):
            extra = {"pageToken": token} if token else {}
            result = self.data(**extra)[1]["result"]
            pages.append((len(result["data"]["users"]), len(result["data"]["permissions"]),
                          len(result["data"]["organizationUserGroups"])))
            token = result["nextPageToken"]
            if token is None:
                break
            self.assertIsInstance(token, str)
        self.assertEqual(pages, [(1, 1, 1), (1, 1, 0), (1, 0, 0)])
        for version in ("v1", "v2"):
            self.assertEqual(self.data(version, pageToken="bogus"), (400, {"error": {
                "message": "Invalid pageToken.", "status": "INVALID_ARGUMENT", "code": 500}}))
        self.assertEqual(self.data(pageToken="")[1]["result"]["data"]["users"][0]["user"],
                         self.STORED)

    def test_get_validation_has_code_500(self):
        status, answer = self.client.api("/v2/users/data/get", {"organizationId": "o1"})
        self.assertEqual(status, 400)
        self.assertEqual(answer["error"]["code"], 500)
        self.assertIn("'userId' is a required property", answer["error"]["message"])
        # Auth errors keep the common shape.
        self.assertEqual(self.client.api("/v2/users/data/get", {}, headers={})[1],
                         {"error": {"message": "API key not found in headers.",
                                    "status": "INVALID_ARGUMENT"}})

    def test_delete_user_data_everywhere(self):
        status, answer = self.client.api("/v2/users/data/delete",
                                         {"userIds": ["u", "ghost"], "organizationIds": ["o1"]})
        self.assertEqual(status, 202)
        job_id = answer["data"]["jobId"]
        self.assertRegex(job_id, r"^[0-9A-Za-z]{20}$")
        # 2 organizations + document + folder users, 2 group memberships, 3 permissions.
        self.assertEqual(answer, {"status": "success",
                                  "message": "Data deletion process has been initiated.",
                                  "data": {"jobId": job_id, "tasksCount": 9},
                                  "statusCode": 202})
        state = self.client.state()
        for org in ("o1", "o2"):
            self.assertEqual(list(state[org]["users"]), ["other"])
            self.assertEqual(state[org]["groups"]["g"]["members"], [])
        self.assertEqual(state["o1"]["documents"]["d"]["users"], {})
        self.assertEqual(state["o1"]["folders"]["f"]["users"], {})
        snapshot = self.client.control("GET", "state")[1]
        self.assertNotIn("permissions", snapshot)
        self.assertEqual(snapshot["deletionJobs"][job_id]["userIds"], ["u", "ghost"])
        status, answer = self.client.api("/v1/users/data/delete/status", {"jobId": job_id})
        self.assertEqual(status, 200)
        self.assertEqual(answer["result"]["message"], "Data fetched successfully.")
        completed = answer["result"]["data"]
        self.assertEqual((completed["isDeleteCompleted"], completed["tasksLeft"]), (True, 0))
        self.assertGreater(completed["lastTaskCompletedTime"], 1.6e12)
        self.assertEqual(self.data(org="o2")[1]["result"]["data"]["users"], [])
        # The same sequence after a reset gives the same job id.
        second = self.client.api("/v2/users/data/delete", {"userIds": ["other"]})[1]
        self.assertNotEqual(second["data"]["jobId"], job_id)
        self.client.control("POST", "reset")
        self.assertEqual(self.client.api("/v1/users/data/delete",
                                         {"userIds": ["u", "ghost"]})[1]["data"],
                         {"jobId": job_id, "tasksCount": 0})

    def test_delete_validation_and_unknown_job(self):
        self.assert_invalid(self.client.api("/v2/users/data/delete", {"userIds": []}),
                            contains="$.data.userIds")
        self.assert_invalid(self.client.api("/v2/users/data/delete", {"organizationIds": ["o1"]}),
                            contains="'userIds' is a required property")
        self.assertEqual(self.client.api("/v2/users/data/delete/status", {"jobId": "nope"}),
                         (404, {"error": {"message": "Job not found.", "status": "NOT_FOUND",
                                          "code": 500}}))
        status, answer = self.client.api("/v2/users/data/delete/status", {})
        self.assertEqual((status, answer["error"]["code"]), (400, 500))
        self.assertIn("u", self.client.state()["o1"]["users"])


class LifecycleTest(unittest.TestCase):
    """Tests that need a server of their own."""

    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.stop()

    def test_port_file_stdout_and_shutdown(self):
        self.server = StandInProcess()
        with open(self.server.port_file, encoding="ascii") as stream:
            self.assertEqual(stream.read(), "%d\n" % self.server.port)
        self.assertEqual(self.server.stderr(), "")  # quiet: the OpenAPI extract loaded
        client = StandInClient(self.server.port)
        client.api("/v2/users/add", {"organizationId": "o", "users": [user("u")]})
        self.assertEqual(self.server.stderr(), "")  # no per-request logging
        self.assertEqual(client.control("POST", "shutdown"), (200, {"ok": True}))
        self.assertEqual(self.server.wait(), 0)
        self.assertEqual(self.server.stdout(), "%d\n" % self.server.port)

    def test_sigterm(self):
        self.server = StandInProcess()
        self.server.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(), 0)

    def start_failing(self, *extra_args):
        """Run a stand-in that must refuse to start: (exit status, stdout, stderr)."""
        completed = subprocess.run(
            [PYTHON, SERVER, "--port", "0", "--api-key", API_KEY, "--auth-token", AUTH_TOKEN]
            + list(extra_args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=START_TIMEOUT, check=False)
        return (completed.returncode, completed.stdout.decode("utf-8", "replace"),
                completed.stderr.decode("utf-8", "replace"))

    def test_missing_extract_exits_2(self):
        status, out, err = self.start_failing("--openapi", "/nonexistent/openapi_requests.json")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("velt_standin: error: cannot read the OpenAPI extract "
                                       "/nonexistent/openapi_requests.json: No such file"), err)
        self.assertIn("extract_openapi.py", err)
        self.assertIn("--no-openapi", err)

    def test_unusable_extract_exits_2(self):
        directory = tempfile.mkdtemp(prefix="velt-standin-test-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "openapi_requests.json")
        cases = (("{", "is not valid JSON"),
                 ("[]", "has no request schemas"),
                 ('{"components": {}, "requests": {}}', "has no request schemas"),
                 ('{"requests": {"/users/add": {}}}', "has no components"),
                 ('{"components": {}, "requests": {"/nope": {"type": "object"}}}',
                  "no endpoint the stand-in serves has a schema"),
                 ('{"components": {}, "requests": {"/users/add": {"type": 5}}}',
                  "schema for /users/add is invalid"))
        for text, message in cases:
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(text)
            status, out, err = self.start_failing("--openapi", path)
            self.assertEqual((status, out), (2, ""), text)
            self.assertEqual(err.count("\n"), 1, err)
            self.assertIn(message, err)
        status, _out, err = self.start_failing("--openapi", directory)   # unreadable
        self.assertEqual(status, 2)
        self.assertIn("cannot read the OpenAPI extract", err)

    def test_no_openapi_keeps_hand_written_checks(self):
        self.server = StandInProcess("--no-openapi")
        self.assertEqual(self.server.stderr(), "")
        client = StandInClient(self.server.port)
        answer = client.api("/v2/users/add", {"organizationId": "o",
                                              "users": [{"userId": "u", "name": "n"}]})
        self.assertEqual(answer[0], 200)  # email is required by the spec only
        status, answer = client.api("/v2/users/add", {"organizationId": "o", "users": [{}]})
        self.assertEqual(status, 400)
        self.assertIn("'userId' is a required property", answer["error"]["message"])
        self.assertEqual(client.control("GET", "stats")[1],
                         {"requests": 2, "connections": 2, "openapi_schemas": 0,
                          "openapi_validated": 0})
        self.assertEqual(self.start_failing("--no-openapi", "--openapi", OPENAPI_EXTRACT)[0], 2)


if __name__ == "__main__":
    unittest.main()
