#!/usr/bin/env python3
"""semrec behind deploy/nginx/semrec.conf with TLS, on loopback.

Run by deploy/check-nginx.sh (which owns the temporary folder, bounds the run
and removes the folder); not meant to be run alone:
    python3 deploy/nginx/check_proxy.py SEMREC_BIN NGINX_BIN WORK_DIR
Starts its own semrec (embedded PostgreSQL in WORK_DIR, empty catalogue) and
its own nginx, and ends both by pid. One PASS/FAIL line per check, then
"N passed, N failed"; exit status 1 when anything failed. Standard library only.
"""

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import traceback
import urllib.parse
import uuid

BIN, NGINX, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "semrec.test"
PASSWORD = "proxy-check-" + uuid.uuid4().hex[:12]
# Burst 3 and a negligible refill: the 4th unauthenticated API request from one
# client address is refused, which shows which address semrec counted.
BURST = 3


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


APP_PORT, PG_PORT, HTTPS_PORT, HTTP_PORT = (free_port() for _ in range(4))
ORIGIN = f"https://{NAME}:{HTTPS_PORT}"
CERT, KEY = os.path.join(WORK, "cert.pem"), os.path.join(WORK, "key.pem")
results = []
procs = []


def report(ok, name, figure):
    print(f"{'PASS' if ok else 'FAIL'} {name}: {figure}", flush=True)
    results.append(bool(ok))


# ── processes ─────────────────────────────────────────────────────────────────


def start_semrec():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        {
            "SEMREC_DATA_DIR": os.path.join(WORK, "pg"),
            "SEMREC_PG_PORT": str(PG_PORT),
            "SEMREC_ADDR": f"127.0.0.1:{APP_PORT}",
            "SEMREC_METRICS_ADDR": "127.0.0.1:0",
            # No catalogue: this checks the edge, not recommendations.
            "SEMREC_DEMO_CATALOG": os.path.join(WORK, "no-catalog.jsonl"),
            "SEMREC_ADMIN_PASSWORD": PASSWORD,
            # The settings deploy/nginx/semrec.conf's header names, for this name.
            "SEMREC_ALLOWED_HOSTS": NAME,
            "SEMREC_SECURE_COOKIES": "true",
            "SEMREC_TRUSTED_PROXIES": "127.0.0.1",
            "SEMREC_API_RATE": "0.001",
            "SEMREC_API_BURST": str(BURST),
            "LEPTOS_SITE_ROOT": os.path.join(ROOT, "target/site"),
        }
    )
    log = open(os.path.join(WORK, "server.log"), "w")
    p = subprocess.Popen([BIN, "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    procs.append(("semrec", p))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"semrec exited with {p.returncode} during start-up")
        try:
            if direct("GET", "/api/v1/health/ready", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("semrec was not ready within 120 s")


def render_nginx_conf():
    """deploy/nginx/semrec.conf with this run's ports, name and certificate; each
    substitution must hit, so the example and the test cannot drift apart."""
    with open(os.path.join(ROOT, "deploy/nginx/semrec.conf")) as f:
        conf = f.read()
    subs = [
        ("    server 127.0.0.1:3000;", f"    server 127.0.0.1:{APP_PORT};"),
        ("    listen 80;", f"    listen 127.0.0.1:{HTTP_PORT};"),
        ("    listen [::]:80;\n", ""),
        ("    listen 443 ssl http2;", f"    listen 127.0.0.1:{HTTPS_PORT} ssl http2;"),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("/etc/ssl/certs/semrec.example.org.pem", CERT),
        ("/etc/ssl/private/semrec.example.org.key", KEY),
        ("semrec.example.org", NAME),
    ]
    for old, new in subs:
        if old not in conf:
            raise RuntimeError(f"deploy/nginx/semrec.conf no longer has {old.strip()!r}: update the test")
        conf = conf.replace(old, new)
    with open(os.path.join(WORK, "semrec.conf"), "w") as f:
        f.write(conf)
    tmp = os.path.join(WORK, "nginx-tmp")
    os.makedirs(tmp, exist_ok=True)
    os.chmod(tmp, 0o1777)  # workers run as nobody when this runs as root
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    with open(os.path.join(WORK, "nginx.conf"), "w") as f:
        f.write(
            f"worker_processes 1;\npid {WORK}/nginx.pid;\nerror_log {WORK}/nginx-error.log;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n    access_log {WORK}/nginx-access.log;\n{temp_paths}"
            f"    include {WORK}/semrec.conf;\n}}\n"
        )


def start_nginx():
    render_nginx_conf()
    conf = os.path.join(WORK, "nginx.conf")
    err = os.path.join(WORK, "nginx-error.log")
    test = subprocess.run([NGINX, "-t", "-p", WORK, "-c", conf, "-e", err],
                          capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t: {test.stderr.strip()}")
    p = subprocess.Popen([NGINX, "-p", WORK, "-c", conf, "-e", err, "-g", "daemon off;"],
                         stdout=subprocess.DEVNULL, stderr=open(err, "a"))
    procs.append(("nginx", p))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"nginx exited with {p.returncode}: see {err}")
        try:
            socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not listen within 20 s")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def stop_all():
    """Ends what this run started, by pid: nginx (master, then any worker left),
    then semrec (which stops its PostgreSQL), then a postmaster it left behind."""
    for name, p in reversed(procs):
        if p.poll() is not None:
            continue
        kids = children(p.pid)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        for k in kids:  # nginx workers (semrec's postmaster is handled below)
            try:
                if os.readlink(f"/proc/{k}/exe") == os.path.realpath(NGINX):
                    os.kill(k, signal.SIGKILL)
            except OSError:
                pass
    pid_file = os.path.join(WORK, "pg", "postmaster.pid")
    try:
        with open(pid_file) as f:
            pm = int(f.readline())
        if os.readlink(f"/proc/{pm}/cwd") == os.path.join(WORK, "pg"):
            os.kill(pm, signal.SIGQUIT)
    except (OSError, ValueError):
        pass


# ── HTTP ──────────────────────────────────────────────────────────────────────


class Reply:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = {k.lower(): v for k, v in r.getheaders()}
        self.cookies = r.msg.get_all("Set-Cookie") or []
        self.body = body

    def cookie(self, name):
        return next((c for c in self.cookies if c.startswith(name + "=")), None)


def call(conn, method, path, headers, body=None):
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return Reply(r, r.read())
    finally:
        conn.close()


def tls_context():
    ctx = ssl.create_default_context(cafile=CERT)
    ctx.check_hostname = True
    return ctx


def proxied(method, path, headers=None, body=None, source="127.0.0.1", host=None, timeout=15):
    """Through nginx over TLS, from a chosen loopback source address."""
    # Named NAME, so SNI and the certificate check use it; connected to 127.0.0.1.
    conn = http.client.HTTPSConnection(NAME, HTTPS_PORT, timeout=timeout,
                                       context=tls_context(), source_address=(source, 0))
    conn._create_connection = lambda addr, *a, **kw: socket.create_connection(
        ("127.0.0.1", HTTPS_PORT), *a, **kw)
    h = {"Host": host or f"{NAME}:{HTTPS_PORT}"}
    h.update(headers or {})
    return call(conn, method, path, h, body)


def direct(method, path, headers=None, body=None, source="127.0.0.1", host=None, timeout=15):
    """Straight to semrec, bypassing the proxy."""
    conn = http.client.HTTPConnection("127.0.0.1", APP_PORT, timeout=timeout,
                                      source_address=(source, 0))
    # NAME: the only allowed host (health checks are answered for any).
    h = {"Host": host or NAME}
    h.update(headers or {})
    return call(conn, method, path, h, body)


def form(fields, origin=ORIGIN, extra=None):
    h = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
         "Origin": origin}
    h.update(extra or {})
    return h, urllib.parse.urlencode(fields)


# ── checks ────────────────────────────────────────────────────────────────────


def check(name):
    def wrap(fn):
        def run():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - any failure is the check's
                report(False, name, f"error: {type(e).__name__}: {e}")
                traceback.print_exc()
        return run
    return wrap


@check("TLS with the self-signed certificate")
def tls():
    r = proxied("GET", "/api/v1/health/ready")
    hsts = r.headers.get("strict-transport-security", "")
    report(r.status == 200 and "max-age=" in hsts, "TLS with the self-signed certificate",
           f"ready {r.status} over TLS (certificate verified for {NAME}), HSTS '{hsts}'")


@check("plain HTTP redirects to HTTPS")
def redirect():
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
    r = call(conn, "GET", "/admin?x=1", {"Host": "evil.test"})
    loc = r.headers.get("location", "")
    report(r.status == 301 and loc == f"https://{NAME}/admin?x=1", "plain HTTP redirects to HTTPS",
           f"{r.status} to {loc!r} (the configured name, not the client's Host)")


@check("Secure cookies on sign-in")
def secure_cookies():
    # A client's own X-Forwarded-Proto changes nothing: semrec does not read it.
    h, body = form({"handle": "proxy-" + uuid.uuid4().hex[:8]}, extra={"X-Forwarded-Proto": "http"})
    user = proxied("POST", "/api/sign_in", h, body)
    h, body = form({"user": "admin", "password": PASSWORD})
    admin = proxied("POST", "/api/admin_sign_in", h, body)
    uc, ac = user.cookie("semrec_session"), admin.cookie("semrec_admin")

    def attrs(c):
        return {a.strip().split("=")[0].lower() for a in (c or "").split(";")[1:]}

    ok = (user.status == 200 and admin.status == 200 and uc and ac
          and {"secure", "httponly"} <= attrs(uc) and {"secure", "httponly"} <= attrs(ac))
    # The session works through the proxy: the admin page opens with the cookie.
    page = proxied("GET", "/admin", {"Cookie": ac.split(";")[0]}) if ac else None
    ok = ok and page is not None and page.status == 200 and b"Sign out" in page.body
    report(ok, "Secure cookies on sign-in",
           f"sign_in {user.status} [{uc and '; '.join(sorted(attrs(uc)))}], admin_sign_in {admin.status} "
           f"[{ac and '; '.join(sorted(attrs(ac)))}], /admin with it {page and page.status}")


@check("browser writes only from the https origin")
def origins():
    out = {}
    for label, origin in [("https", ORIGIN), ("http", f"http://{NAME}:{HTTPS_PORT}"),
                          ("other", f"https://evil.test:{HTTPS_PORT}")]:
        h, body = form({"handle": "origin-" + uuid.uuid4().hex[:8]}, origin=origin)
        out[label] = proxied("POST", "/api/sign_in", h, body).status
    report(out == {"https": 200, "http": 403, "other": 403}, "browser writes only from the https origin",
           f"Origin https {out['https']}, http (same name) {out['http']}, other host {out['other']}")


@check("Host allow-list through the proxy")
def hosts():
    good = proxied("GET", "/")
    bad = proxied("GET", "/", host="evil.test")
    bad_port = proxied("GET", "/", host=f"evil.test:{HTTPS_PORT}")
    sign_in = proxied("POST", "/api/sign_in", *form({"handle": "rebind"}, origin="https://evil.test"),
                      host="evil.test")
    bypass = direct("GET", "/", host="evil.test")
    ok = (good.status == 200 and 400 <= bad.status < 500 and 400 <= bad_port.status < 500
          and 400 <= sign_in.status < 500 and sign_in.cookie("semrec_session") is None
          and 400 <= bypass.status < 500)
    report(ok, "Host allow-list through the proxy",
           f"Host {NAME}: {good.status}; evil.test: {bad.status}, with port {bad_port.status}, "
           f"sign_in {sign_in.status} (no cookie); straight to semrec: {bypass.status}")


def api_statuses(send, n, xff):
    """n unauthenticated API calls, each with its own X-Forwarded-For."""
    return [send("GET", "/api/v1/items", {"X-Forwarded-For": xff(i)}).status for i in range(n)]


def refused_at(statuses):
    return statuses.index(429) + 1 if 429 in statuses else None


@check("trusted proxies")
def trusted_proxies():
    n = BURST + 2
    # Through nginx from 127.0.0.3, each request claiming another address: nginx
    # replaces the header, so semrec counts 127.0.0.3 and refuses after the burst.
    via_spoofed = api_statuses(lambda *a: proxied(*a, source="127.0.0.3"), n, lambda i: f"10.0.0.{i + 1}")
    # Another client through the same proxy has its own budget: semrec believed
    # nginx's X-Forwarded-For (without it both would count as nginx's 127.0.0.1).
    via_other = proxied("GET", "/api/v1/items", source="127.0.0.4").status
    # Straight to semrec from 127.0.0.5, not a trusted proxy: its header is ignored.
    untrusted = api_statuses(lambda *a: direct(*a, source="127.0.0.5"), n, lambda i: f"10.1.0.{i + 1}")
    # Control: from the trusted address the same header is believed, one budget each.
    trusted = api_statuses(lambda *a: direct(*a, source="127.0.0.1"), n, lambda i: f"10.2.0.{i + 1}")
    ok = (refused_at(via_spoofed) == BURST + 1 and via_other == 401
          and refused_at(untrusted) == BURST + 1 and 429 not in trusted)
    report(ok, "trusted proxies",
           f"burst {BURST}: via nginx with spoofed X-Forwarded-For {via_spoofed}; another client via nginx "
           f"{via_other}; straight from untrusted 127.0.0.5 {untrusted}; from trusted 127.0.0.1 {trusted}")


def main():
    t = time.monotonic()
    try:
        start_semrec()
        start_nginx()
        print(f"semrec on 127.0.0.1:{APP_PORT}, nginx on https://{NAME}:{HTTPS_PORT} "
              f"(started in {time.monotonic() - t:.1f} s)", flush=True)
        for c in (tls, redirect, secure_cookies, origins, hosts, trusted_proxies):
            c()
    except Exception as e:  # noqa: BLE001
        report(False, "set-up", f"{type(e).__name__}: {e}")
    finally:
        stop_all()
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
