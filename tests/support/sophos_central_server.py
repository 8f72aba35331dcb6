#!/usr/bin/python3
"""A Sophos Central test server on loopback for vigie's tests and benchmark.

It serves the shapes of Sophos Central's public API as documented in the project's
reference (id.sophos.com's token endpoint, whoami, the partner's and organisation's
tenants paged by page number, each tenant's endpoints and alerts paged by key, and the
error bodies), over HTTPS on four ports: the identity host, the global API host, and
two "regions" on which tenants live (each tenant's `apiHost` names its region's port).

What it serves comes from a scenario file (JSON):

  {"client_id": "...", "client_secret": "...",
   "id_type": "partner" | "organization" | "tenant", "id": "<uuid>",
   "token_lifetime": 3600,          # expires_in of each token, seconds
   "revoke_first_token_after": 0,   # > 0: the first token is refused (401) after N calls
   "tenant_page_size": 100,         # the server's maximum pageSize, per list
   "endpoint_page_size": 500, "alert_page_size": 100,
   "delay": 0,                      # seconds before every API answer
   "generate": {"tenants": 300, "endpoints": 50},  # many made-up tenants (benchmark)
   "tenants": [{"id", "name", "region": 0 | 1, "status", "omit": ["apiHost", ...],
                "forbidden": true,          # 403 to its endpoints and alerts
                "rate_limit": 2,            # the first N endpoint requests get 429
                "retry_after": "1",         # their Retry-After header; null: none
                "malformed": "endpoints" | "alerts",   # invalid JSON there
                "deep": "endpoints" | "alerts",  # valid JSON nested 100,000 levels there
                "endless": true,            # the endpoint list never ends
                "delay": 0,                 # seconds before each of its answers
                "endpoints": [spec, ...], "alerts": [spec, ...]}]}

An endpoint spec names what differs from a healthy, recently seen Windows computer:
{"hostname", "type", "health", "threats", "services", "stopped": [service names],
"missing": [...], "tamper": bool, "tamper_supported": bool, "online": bool,
"last_seen": "<UTC time>" or "last_seen_days": N, "omit": [top-level or "a.b" fields],
"raw": {fields set as given, over the rest}}. An alert spec: {"severity", "category",
"description", "type", "endpoint": <hostname>, "raised_days": N, "raised_no_zone": bool,
"omit": [...], "raw": {...}}.

Every request is appended as one JSON line to LOG ({"time", "host": "id" | "api" |
"region0" | "region1", "method", "path", "query", "tenant", "partner", "organization",
"token", "status"}). The ports are written to PORT_FILE as JSON {"id", "api",
"regions": [p0, p1]} once all four accept.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import ssl
import threading
import time
import urllib.parse
import uuid

SERVICES = ["Sophos MCS Agent", "Sophos MCS Client", "Sophos Anti-Virus",
            "Sophos File Scanner", "Sophos Endpoint Defense Service",
            "Sophos Network Threat Protection"]


def utc_text(when, zone=True):
    text = when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)
    return text if zone else text[:-1]


def drop(obj, path):
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj.get(part)
        if not isinstance(obj, dict):
            return
    obj.pop(parts[-1], None)


def make_endpoint(spec, tenant_id, index, now):
    """One endpoint of the full view, in the shape of the reference's example."""
    hostname = spec.get("hostname", "PC-%04d" % index)
    kind = spec.get("type", "computer")
    server = kind == "server"
    health = spec.get("health", "good")
    stopped = spec.get("stopped", [])
    missing = spec.get("missing", [])
    details = [{"name": name, "status": "stopped" if name in stopped else
                "missing" if name in missing else "running"}
               for name in SERVICES[:4] + [n for n in stopped + missing if n not in SERVICES[:4]]]
    if "last_seen" in spec:
        last_seen = spec["last_seen"]
    else:
        seen = now - datetime.timedelta(days=spec.get("last_seen_days", 0), minutes=5 + index % 50)
        last_seen = utc_text(seen)
    endpoint = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant_id + "/" + hostname + "/" + str(index))),
        "type": kind,
        "tenant": {"id": tenant_id},
        "hostname": hostname,
        "health": {"overall": health,
                   "threats": {"status": spec.get("threats", "good")},
                   "services": {"status": spec.get("services", "good"),
                                "serviceDetails": details}},
        "os": {"isServer": server, "platform": "windows",
               "name": "Windows Server 2019 Standard" if server else "Windows 10 Pro",
               "majorVersion": 10, "minorVersion": 0, "build": 17763 if server else 19045},
        "ipv4Addresses": ["192.168.%d.%d" % (index // 250 % 250, 1 + index % 250)],
        "macAddresses": ["34:48:ED:%02X:%02X:%02X" % (index >> 16 & 255, index >> 8 & 255,
                                                     index & 255)],
        "associatedPerson": {"viaLogin": hostname + "\\Utilisateur"},
        "tamperProtectionEnabled": spec.get("tamper", True),
        "tamperProtectionSupported": spec.get("tamper_supported", True),
        "online": spec.get("online", True),
        "assignedProducts": [
            {"code": "coreAgent", "version": "2023.2.0.71", "status": "installed"},
            {"code": "interceptX", "version": "2023.2.2.1", "status": "installed"}],
        "lastSeenAt": last_seen,
        "encryption": {"volumes": []},
    }
    for path in spec.get("omit", []):
        drop(endpoint, path)
    endpoint.update(spec.get("raw", {}))
    return endpoint


def make_alert(spec, tenant, endpoints, index, now):
    raised = now - datetime.timedelta(days=spec.get("raised_days", 1), minutes=index)
    target = next((e for e in endpoints if e.get("hostname") == spec.get("endpoint")), None)
    alert = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant["id"] + "/alert/" + str(index))),
        "allowedActions": ["acknowledge"],
        "category": spec.get("category", "malware"),
        "description": spec.get("description", "Manual cleanup required: 'EICAR-AV-Test'"),
        "groupKey": base64.b64encode(("1,Event::Endpoint,%d" % index).encode()).decode(),
        "managedAgent": ({"id": target["id"], "type": target.get("type", "computer")}
                         if target else {}),
        "product": "endpoint",
        "raisedAt": utc_text(raised, not spec.get("raised_no_zone", False)),
        "severity": spec.get("severity", "high"),
        "tenant": {"id": tenant["id"], "name": tenant["name"]},
        "type": spec.get("type", "Event::Endpoint::Threat::CleanupFailed"),
    }
    for path in spec.get("omit", []):
        drop(alert, path)
    alert.update(spec.get("raw", {}))
    return alert


def generated_tenants(count, endpoints):
    """The benchmark's partner: `count` tenants of `endpoints` endpoints each, a few of
    them in bad health, one high alert in every tenth tenant."""
    tenants = []
    for t in range(count):
        specs = []
        for e in range(endpoints):
            spec = {"hostname": "PC-%03d-%02d" % (t, e)}
            if e == 7:
                spec.update(health="suspicious", services="suspicious",
                            stopped=["Sophos File Scanner"])
            if e == 13 and t % 3 == 0:
                spec.update(health="bad", threats="bad")
            if e == 21 and t % 5 == 0:
                spec.update(tamper=False)
            if e == 33 and t % 4 == 0:
                spec.update(last_seen_days=30)
            specs.append(spec)
        alerts = [{"severity": "high", "endpoint": "PC-%03d-13" % t}] if t % 10 == 0 else []
        alerts.append({"severity": "medium", "category": "updating",
                       "type": "Event::Endpoint::OutOfDate", "description": "out of date"})
        tenants.append({"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "bench-tenant-%d" % t)),
                        "name": "Member %03d" % t, "region": t % 2,
                        "endpoints": specs, "alerts": alerts})
    return tenants


class Central:
    """The state shared by the four listeners."""

    def __init__(self, scenario, log_path, region_hosts):
        self.scenario = scenario
        self.log_path = log_path
        self.lock = threading.Lock()
        self.tokens = {}  # token -> {"expires": time, "calls": n, "first": bool}
        self.issued = 0
        self.region_urls = []  # set once the ports are known
        self.region_hosts = region_hosts
        self.rate_limited = {}  # tenant id -> 429s sent
        now = datetime.datetime.now(datetime.timezone.utc)
        tenants = list(scenario.get("tenants", []))
        if "generate" in scenario:
            tenants += generated_tenants(scenario["generate"]["tenants"],
                                         scenario["generate"]["endpoints"])
        self.tenants = tenants
        self.by_id = {t["id"]: t for t in tenants}
        # Endpoints and alerts are built once, at start: "now" is the server's start.
        for t in tenants:
            t["_endpoints"] = [make_endpoint(s, t["id"], i, now)
                               for i, s in enumerate(t.get("endpoints", []))]
            t["_alerts"] = [make_alert(s, t, t["_endpoints"], i, now)
                            for i, s in enumerate(t.get("alerts", []))]
            t["_endpoint_bodies"] = {}

    def log(self, entry):
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

    def issue_token(self):
        with self.lock:
            self.issued += 1
            token = "tok-%d-%s" % (self.issued, uuid.uuid4().hex)
            self.tokens[token] = {"expires": time.time() + self.scenario.get("token_lifetime", 3600),
                                  "calls": 0, "first": self.issued == 1}
            return token

    def token_ok(self, token):
        """None when the token may call the API, else why not."""
        with self.lock:
            info = self.tokens.get(token)
            if info is None:
                return "unknown token"
            if time.time() >= info["expires"]:
                return "token expired"
            limit = self.scenario.get("revoke_first_token_after", 0)
            if info["first"] and limit > 0 and info["calls"] >= limit:
                return "token revoked"
            info["calls"] += 1
            return None

    def tenant_json(self, t):
        region = t.get("region", 0)
        out = {"id": t["id"], "name": t["name"],
               "dataGeography": "IE" if region == 0 else "DE",
               "dataRegion": "eu01" if region == 0 else "eu02",
               "billingType": t.get("billingType", "term"),
               "apiHost": self.region_urls[region],
               "status": t.get("status", "active")}
        if self.scenario.get("id_type") == "organization":
            out["organization"] = {"id": self.scenario["id"]}
        else:
            out["partner"] = {"id": self.scenario["id"]}
        for path in t.get("omit", []):
            drop(out, path)
        return out


def deep_items(levels=100000):
    """A list whose one item is an array nested `levels` deep: valid JSON (200 KB) that a
    reader walking it a level a call would overflow its stack on."""
    return b'{"items": [' + b"[" * levels + b"]" * levels + b'], "pages": {}}'


def page_key(offset):
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "s": "k"}).encode()).decode()


def read_key(key):
    try:
        return int(json.loads(base64.urlsafe_b64decode(key.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        return None


def make_handler(central, role):
    scenario = central.scenario

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, body, headers=None, entry=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            if entry is not None:
                entry["status"] = status
                central.log(entry)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def api_error(self, status, error, message, entry):
            self.reply(status, {"error": error, "message": message,
                                "correlationId": str(uuid.uuid4()),
                                "requestId": str(uuid.uuid4())}, entry=entry)

        def entry(self, url):
            auth = self.headers.get("Authorization", "")
            return {"time": int(time.time() * 1000), "host": role, "method": self.command,
                    "path": url.path,
                    "query": dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
                    "tenant": self.headers.get("X-Tenant-ID"),
                    "partner": self.headers.get("X-Partner-ID"),
                    "organization": self.headers.get("X-Organization-ID"),
                    "token": auth[7:] if auth.startswith("Bearer ") else None,
                    "sni_host": self.headers.get("Host")}

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            entry = self.entry(url)
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if role != "id" or url.path != "/api/v2/oauth2/token":
                return self.api_error(404, "notFound", "no such path", entry)
            entry["content_type"] = self.headers.get("Content-Type")
            if (self.headers.get("Content-Type") != "application/x-www-form-urlencoded"
                    or form.get("grant_type") != "client_credentials"
                    or form.get("scope") != "token"):
                return self.reply(400, {"errorCode": "oauth.invalid_request",
                                        "message": "Bad Request",
                                        "trackingId": str(uuid.uuid4())}, entry=entry)
            if (form.get("client_id") != scenario["client_id"]
                    or form.get("client_secret") != scenario["client_secret"]):
                return self.reply(401, {"errorCode": "oauth.invalid_client_secret",
                                        "message": "Unauthorized",
                                        "trackingId": str(uuid.uuid4())}, entry=entry)
            token = central.issue_token()
            self.reply(200, {"access_token": token, "errorCode": "success",
                             "expires_in": scenario.get("token_lifetime", 3600),
                             "message": "OK", "refresh_token": uuid.uuid4().hex,
                             "token_type": "bearer", "trackingId": str(uuid.uuid4())},
                       entry=entry)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            entry = self.entry(url)
            query = entry["query"]
            # The token is judged as the request arrives, as a gateway does, before the
            # answer's delay.
            why = central.token_ok(entry["token"])
            if scenario.get("delay"):
                time.sleep(scenario["delay"])
            if why is not None:
                entry["why"] = why
                return self.reply(401, {"error": "Unauthorized", "correlationId": str(uuid.uuid4()),
                                        "requestId": str(uuid.uuid4())}, entry=entry)
            if role == "api":
                return self.global_api(url, query, entry)
            if role.startswith("region"):
                return self.tenant_api(int(role[6:]), url, query, entry)
            return self.api_error(404, "notFound", "no such path", entry)

        def global_api(self, url, query, entry):
            id_type = scenario.get("id_type", "partner")
            if url.path == "/whoami/v1":
                body = {"id": scenario["id"], "idType": id_type,
                        "apiHosts": {"global": "https://api.central.sophos.com"}}
                if id_type == "tenant":
                    body["apiHosts"]["dataRegion"] = central.region_urls[0]
                return self.reply(200, body, entry=entry)
            if url.path in ("/partner/v1/tenants", "/organization/v1/tenants"):
                header = "X-Partner-ID" if url.path.startswith("/partner") else "X-Organization-ID"
                wanted = "partner" if header == "X-Partner-ID" else "organization"
                if id_type != wanted or self.headers.get(header) != scenario["id"]:
                    return self.api_error(403, "forbidden", header + " missing or wrong", entry)
                size = min(int(query.get("pageSize", "50")), scenario.get("tenant_page_size", 100))
                page = int(query.get("page", "1"))
                tenants = central.tenants
                items = tenants[(page - 1) * size: page * size]
                pages = {"current": page, "size": size,
                         "maxSize": scenario.get("tenant_page_size", 100)}
                if query.get("pageTotal") == "true":
                    pages["total"] = max(1, (len(tenants) + size - 1) // size)
                    pages["items"] = len(tenants)
                return self.reply(200, {"items": [central.tenant_json(t) for t in items],
                                        "pages": pages}, entry=entry)
            return self.api_error(404, "notFound", "no such path", entry)

        def tenant_api(self, region, url, query, entry):
            tenant = central.by_id.get(self.headers.get("X-Tenant-ID", ""))
            if tenant is None or tenant.get("region", 0) != region:
                return self.api_error(401, "Unauthorized", "X-Tenant-ID missing or wrong", entry)
            if tenant.get("delay"):
                time.sleep(tenant["delay"])
            if tenant.get("forbidden"):
                return self.api_error(403, "forbidden",
                                      "Partner assistance is not enabled for this tenant", entry)
            if url.path == "/endpoint/v1/endpoints":
                with central.lock:
                    sent = central.rate_limited.get(tenant["id"], 0)
                    limited = sent < tenant.get("rate_limit", 0)
                    if limited:
                        central.rate_limited[tenant["id"]] = sent + 1
                if limited:
                    retry = tenant.get("retry_after", "1")
                    headers = {"Retry-After": retry} if retry is not None else {}
                    return self.reply(429, {"error": "tooManyRequests",
                                            "message": "Too Many Requests",
                                            "correlationId": str(uuid.uuid4()),
                                            "requestId": str(uuid.uuid4())},
                                      headers=headers, entry=entry)
                if tenant.get("deep") == "endpoints":
                    return self.reply(200, deep_items(), entry=entry)
                if tenant.get("malformed") == "endpoints":
                    return self.reply(200, b'{"items": [{"id": "a24b74a2", "hostname": "SRV',
                                      entry=entry)
                return self.keyed(tenant["_endpoints"], query, scenario.get("endpoint_page_size", 500),
                                  entry, endless=tenant.get("endless", False), tenant=tenant,
                                  full=query.get("view") == "full")
            if url.path == "/common/v1/alerts":
                if tenant.get("deep") == "alerts":
                    return self.reply(200, deep_items(), entry=entry)
                if tenant.get("malformed") == "alerts":
                    return self.reply(200, b"<html>Bad Gateway</html>", entry=entry)
                return self.keyed(tenant["_alerts"], query, scenario.get("alert_page_size", 100),
                                  entry)
            return self.api_error(404, "notFound", "no such path", entry)

        def keyed(self, items, query, max_size, entry, endless=False, tenant=None, full=True):
            size = min(int(query.get("pageSize", "50")), max_size)
            offset = 0
            if "pageFromKey" in query:
                offset = read_key(query["pageFromKey"])
                if offset is None:
                    return self.api_error(400, "badRequest", "invalid pageFromKey", entry)
            if endless:
                now = datetime.datetime.now(datetime.timezone.utc)
                page = [make_endpoint({"hostname": "LOOP-%06d" % i}, tenant["id"], i, now)
                        for i in range(offset, offset + size)]
                more = True
            else:
                page = items[offset: offset + size]
                more = offset + size < len(items)
            if not full:  # the basic view: id, type, tenant, hostname only
                page = [{k: e[k] for k in ("id", "type", "tenant", "hostname") if k in e}
                        for e in page]
            pages = {"fromKey": query.get("pageFromKey", page_key(0)), "size": size,
                     "maxSize": max_size}
            if more:
                pages["nextKey"] = page_key(offset + size)
            if query.get("pageTotal") == "true" and not endless:
                pages["total"] = max(1, (len(items) + size - 1) // size)
                pages["items"] = len(items)
            self.reply(200, {"items": page, "pages": pages}, entry=entry)

        def log_message(self, fmt, *values):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--tls-cert", required=True)
    parser.add_argument("--tls-key", required=True)
    parser.add_argument("--region-hosts", default="localhost,127.0.0.1",
                        help="the host names of the two regions' apiHost")
    args = parser.parse_args()
    with open(args.scenario, encoding="utf-8") as f:
        scenario = json.load(f)
    central = Central(scenario, args.log, args.region_hosts.split(","))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    servers = {}
    for role in ("id", "api", "region0", "region1"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(central, role))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers[role] = server
    central.region_urls = ["https://%s:%d" % (central.region_hosts[i],
                                              servers["region%d" % i].server_address[1])
                           for i in (0, 1)]
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = {"id": servers["id"].server_address[1], "api": servers["api"].server_address[1],
             "regions": [servers["region0"].server_address[1],
                         servers["region1"].server_address[1]]}
    with open(args.port_file + ".tmp", "w") as out:
        out.write(json.dumps(ports) + "\n")
    os.rename(args.port_file + ".tmp", args.port_file)
    threading.Event().wait()


if __name__ == "__main__":
    main()
