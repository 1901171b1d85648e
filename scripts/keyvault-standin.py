#!/usr/bin/env python3
"""A local stand-in for Azure Key Vault's secrets REST API and the two
Azure AD token endpoints PulseStream uses, for tests only.

scripts/lowkey-vault.sh starts it when the Lowkey Vault jar cannot be had
from Maven Central.  It follows the published REST reference (api-version
7.x): Set Secret (PUT /secrets/NAME), Get Secret (GET /secrets/NAME[/VER]),
Get Secrets (GET /secrets, paged through nextLink), Delete Secret (DELETE
/secrets/NAME, soft delete), with Azure's error body shape and a 401 Bearer
challenge.  Unlike Lowkey Vault it checks tokens: only a token it issued is
accepted.

Token endpoints:
  POST /TENANT/oauth2/v2.0/token            client credentials (form body)
  GET  /metadata/identity/oauth2/token      managed identity (needs the
       X-IDENTITY-HEADER value, or "Metadata: true" as IMDS does)

Configuration (environment, never argv): KV_PORT, KV_CERT, KV_KEY (PEM),
KV_TENANT, KV_CLIENT_ID, KV_CLIENT_SECRET, KV_IDENTITY_HEADER, KV_PAGE_SIZE
(default 25), KV_THROTTLE_EVERY (answer every Nth vault request with 429
and "Retry-After: 0", to exercise client retries; 0 = never).  The log
(stderr) shows method, path, status: never bodies, tokens or secrets.
"""
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOURCE = "https://vault.azure.net"
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

lock = threading.Lock()
store = {}          # name -> list of (version, value, created)
deleted = {}        # name -> deleted bundle
tokens = {}         # token -> expiry
counter = {"vault": 0}
cfg = {
    "tenant": os.environ.get("KV_TENANT", "pulsestream-test"),
    "client_id": os.environ.get("KV_CLIENT_ID", ""),
    "client_secret": os.environ.get("KV_CLIENT_SECRET", ""),
    "identity_header": os.environ.get("KV_IDENTITY_HEADER", ""),
    "page": int(os.environ.get("KV_PAGE_SIZE", "25")),
    "throttle": int(os.environ.get("KV_THROTTLE_EVERY", "0")),
}


def issue_token():
    tok = secrets.token_urlsafe(32)
    with lock:
        tokens[tok] = time.time() + 3600
    return tok


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keyvault-standin"

    def log_message(self, fmt, *args):
        pass  # one line per request is written by reply()

    def reply(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        path = urllib.parse.urlsplit(self.path).path
        sys.stderr.write("%s %s %d\n" % (self.command, path, status))
        sys.stderr.flush()

    def error(self, status, code, message, headers=()):
        self.reply(status, {"error": {"code": code, "message": message}},
                   headers)

    def body(self):
        return self._body

    def base(self):
        return "https://%s" % self.headers.get("Host", "127.0.0.1")

    # --- tokens ---------------------------------------------------------
    def client_credentials(self, tenant):
        form = urllib.parse.parse_qs(self.body().decode("utf-8", "replace"))
        get = lambda k: (form.get(k) or [""])[0]
        if tenant != cfg["tenant"]:
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "unknown tenant"})
        if get("grant_type") != "client_credentials":
            return self.reply(400, {"error": "unsupported_grant_type",
                                    "error_description": "grant_type"})
        if get("scope") != RESOURCE + "/.default":
            return self.reply(400, {"error": "invalid_scope",
                                    "error_description": "scope"})
        ok = (cfg["client_secret"] and
              hmac.compare_digest(get("client_id"), cfg["client_id"]) and
              hmac.compare_digest(get("client_secret"),
                                  cfg["client_secret"]))
        if not ok:
            return self.reply(401, {"error": "invalid_client",
                                    "error_description":
                                    "client authentication failed"})
        self.reply(200, {"token_type": "Bearer", "expires_in": 3599,
                         "ext_expires_in": 3599,
                         "access_token": issue_token()})

    def managed_identity(self, query):
        q = urllib.parse.parse_qs(query)
        hdr = self.headers.get("X-IDENTITY-HEADER")
        imds = self.headers.get("Metadata") == "true"
        if hdr is not None:
            if not cfg["identity_header"] or not hmac.compare_digest(
                    hdr, cfg["identity_header"]):
                return self.reply(401, {"error": "invalid_request",
                                        "error_description": "header"})
        elif not imds:
            return self.reply(400, {"error": "invalid_request",
                                    "error_description": "no header"})
        if (q.get("resource") or [""])[0] != RESOURCE or "api-version" not in q:
            return self.reply(400, {"error": "invalid_resource",
                                    "error_description": "resource"})
        exp = int(time.time()) + 3600
        self.reply(200, {"access_token": issue_token(),
                         "expires_on": str(exp), "resource": RESOURCE,
                         "token_type": "Bearer"})

    # --- vault ----------------------------------------------------------
    def authorized(self):
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else ""
        with lock:
            exp = tokens.get(tok)
        if exp and exp > time.time():
            return True
        challenge = ('Bearer authorization="https://login.microsoftonline.com'
                     '/%s", resource="%s"' % (cfg["tenant"], RESOURCE))
        self.error(401, "Unauthorized", "AKV10000: Request is missing a "
                   "Bearer or PoP token.", [("WWW-Authenticate", challenge)])
        return False

    def bundle(self, name, ver, value, created):
        return {"value": value,
                "id": "%s/secrets/%s/%s" % (self.base(), name, ver),
                "contentType": "text/plain",
                "attributes": {"enabled": True, "created": created,
                               "updated": created,
                               "recoveryLevel": "Recoverable+Purgeable",
                               "recoverableDays": 90}}

    def vault(self, parts, q):
        if "api-version" not in q:
            return self.error(400, "BadParameter",
                              "The 'api-version' query parameter is "
                              "missing.")
        if not self.authorized():
            return
        with lock:
            counter["vault"] += 1
            n = counter["vault"]
        if cfg["throttle"] and n % cfg["throttle"] == 0:
            return self.error(429, "Throttled", "Too many requests",
                              [("Retry-After", "0")])
        if len(parts) == 1:
            if self.command != "GET":
                return self.error(405, "BadParameter", "method")
            return self.list_secrets(q)
        name = parts[1]
        if not name or not set(name) <= NAME_OK or len(name) > 127:
            return self.error(400, "BadParameter", "invalid secret name")
        if self.command == "PUT" and len(parts) == 2:
            try:
                doc = json.loads(self.body() or b"null")
                value = doc["value"]
                if not isinstance(value, str):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return self.error(400, "BadParameter",
                                  "Property value is required.")
            ver = secrets.token_hex(16)
            now = int(time.time())
            with lock:
                if name in deleted:
                    return self.error(409, "Conflict", "Secret is "
                                      "currently in a deleted but "
                                      "recoverable state.")
                store.setdefault(name, []).append((ver, value, now))
            return self.reply(200, self.bundle(name, ver, value, now))
        if self.command == "GET" and len(parts) in (2, 3):
            with lock:
                versions = list(store.get(name, []))
            if len(parts) == 3 and parts[2]:
                versions = [v for v in versions if v[0] == parts[2]]
            if not versions:
                return self.error(404, "SecretNotFound", "A secret with "
                                  "(name/id) %s was not found in this key "
                                  "vault." % name)
            ver, value, created = versions[-1]
            return self.reply(200, self.bundle(name, ver, value, created))
        if self.command == "DELETE" and len(parts) == 2:
            with lock:
                versions = store.pop(name, None)
            if not versions:
                return self.error(404, "SecretNotFound", "A secret with "
                                  "(name/id) %s was not found in this key "
                                  "vault." % name)
            ver, _, created = versions[-1]
            b = self.bundle(name, ver, None, created)
            del b["value"]
            now = int(time.time())
            b.update({"recoveryId": "%s/deletedsecrets/%s" % (self.base(),
                                                              name),
                      "deletedDate": now,
                      "scheduledPurgeDate": now + 90 * 86400})
            with lock:
                deleted[name] = b
            return self.reply(200, b)
        return self.error(405, "BadParameter", "unsupported operation")

    def list_secrets(self, q):
        try:
            page = int((q.get("maxresults") or [cfg["page"]])[0])
            skip = int((q.get("$skiptoken") or ["0"])[0])
        except ValueError:
            return self.error(400, "BadParameter", "maxresults")
        page = max(1, min(page, cfg["page"]))
        with lock:
            names = sorted(store)
        chunk = names[skip:skip + page]
        items = [{"id": "%s/secrets/%s" % (self.base(), n),
                  "contentType": "text/plain",
                  "attributes": {"enabled": True}} for n in chunk]
        nxt = None
        if skip + page < len(names):
            nxt = "%s/secrets?api-version=%s&$skiptoken=%d&maxresults=%d" % (
                self.base(), q["api-version"][0], skip + page, page)
        self.reply(200, {"value": items, "nextLink": nxt})

    # --- dispatch -------------------------------------------------------
    def route(self):
        # Always consume the body, so that an early answer (401, 429)
        # leaves the kept-alive connection in sync.
        n = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(n) if n else b""
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [p for p in u.path.split("/") if p != ""]
        if u.path == "/ping":
            return self.reply(200, {"status": "ok"})
        if u.path == "/metadata/identity/oauth2/token" and \
                self.command == "GET":
            return self.managed_identity(u.query)
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] \
                and self.command == "POST":
            return self.client_credentials(parts[0])
        if parts and parts[0] == "secrets" and len(parts) <= 3:
            return self.vault(parts, q)
        self.error(404, "NotFound", "no such endpoint")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = route


def main():
    port = int(os.environ["KV_PORT"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.environ["KV_CERT"], os.environ["KV_KEY"])
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    sys.stderr.write("keyvault-standin listening on 127.0.0.1:%d\n" % port)
    sys.stderr.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
