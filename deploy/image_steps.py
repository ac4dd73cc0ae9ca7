#!/usr/bin/env python3
"""Runs deploy/Containerfile's steps in chroots of a debootstrap bookworm root.

Run by deploy/check-image-steps.sh (as root; it makes the base root, the work
folder and a throwaway PostgreSQL with pgvector, and ends them); not meant to
be run alone:
    python3 deploy/image_steps.py BASE_ROOT WORK_DIR CACHE_DIR DATABASE_URL
No container engine: each stage is a copy of BASE_ROOT, RUN steps run in it
with `/bin/sh -c` under chroot, in a private mount namespace (unshare) holding
/proc, /dev, /sys and the RUN's cache mounts (kept in CACHE_DIR across runs, as
BuildKit keeps them), with the stage's ENV, ARG, WORKDIR and USER. COPY takes the
build context (the repository minus .dockerignore) or another stage's files.
Then the last stage's ENTRYPOINT + CMD runs as its USER, with DATABASE_URL and
loopback addresses, and the HEALTHCHECK command, run in the chroot, must get
/api/v1/health/ready's 200. Supports the instructions deploy/Containerfile uses
and stops on any other. Standard library only.
"""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

BASE, WORK, CACHE, DATABASE_URL = sys.argv[1:5]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTAINERFILE = os.path.join(ROOT, "deploy/Containerfile")
READY_SECS = 180


def log(msg):
    print(f"[image-steps] {msg}", flush=True)


def instructions(path):
    """(keyword, rest) per instruction: comments dropped, continuations joined."""
    out, cur = [], ""
    for line in open(path):
        s = line.rstrip("\n")
        if not cur and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if cur and s.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        kw, _, rest = cur.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out


class Stage:
    def __init__(self, name, root):
        self.name, self.root = name, root
        self.env, self.args = {}, {}
        self.workdir, self.user = "/", None
        self.entrypoint, self.cmd, self.healthcheck = [], [], None


def in_root(stage, path):
    return os.path.join(stage.root, path.lstrip("/"))


# What a build host passes to builds without the Containerfile naming it: its
# proxy settings (container engines pass these as predefined build args) and
# where its CA bundle is, for a network behind a TLS-intercepting proxy.
BUILD_HOST_ENV = ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                  "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
                  "PIP_CERT", "REQUESTS_CA_BUNDLE"]
LOCAL_CAS = "/usr/local/share/ca-certificates"


def copy_base(name):
    root = os.path.join(WORK, name)
    subprocess.run(["cp", "-a", BASE, root], check=True)
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    # This machine's own CAs, picked up when a RUN installs ca-certificates.
    if os.path.isdir(LOCAL_CAS):
        subprocess.run(["cp", "-a", LOCAL_CAS + "/.", os.path.join(root, LOCAL_CAS.lstrip("/"))], check=True)
    return root


def chroot_cmd(stage, argv, mounts=(), user=None, build=False):
    """argv run in the stage's root: a private mount namespace with /proc, /dev,
    /sys and the given (host dir, target) bind mounts, then chroot."""
    r = stage.root
    setup = [
        f"mount -t proc proc {shlex.quote(r)}/proc",
        f"mount --rbind /dev {shlex.quote(r)}/dev",
        f"mount -t sysfs sysfs {shlex.quote(r)}/sys",
    ]
    for host, target in mounts:
        t = in_root(stage, target)
        os.makedirs(t, exist_ok=True)
        setup.append(f"mount --bind {shlex.quote(host)} {shlex.quote(t)}")
    spec, home = [], "/root"
    if user:
        uid, gid = lookup_user(stage, user)
        spec = [f"--userspec={uid}:{gid}", f"--groups={gid}"]
        home = home_of(stage, uid)
    # What a container engine sets when the image does not: PATH and the user's HOME.
    env = {"PATH": DEFAULT_PATH, "HOME": home, **stage.args, **stage.env}
    if build:
        env = {**{k: os.environ[k] for k in BUILD_HOST_ENV if k in os.environ}, **env}
    inner = ["chroot", *spec, r, "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
    script = " && ".join(setup) + " && exec " + shlex.join(inner)
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def home_of(stage, uid):
    with open(in_root(stage, "etc/passwd")) as f:
        for line in f:
            p = line.split(":")
            if p[2] == str(uid):
                return p[5]
    return "/"


def lookup_user(stage, user):
    name, _, group = user.partition(":")
    with open(in_root(stage, "etc/passwd")) as f:
        for line in f:
            p = line.split(":")
            if p[0] == name or p[2] == name:
                return int(p[2]), int(group) if group.isdigit() else int(p[3])
    raise RuntimeError(f"USER {user}: no such user in the {stage.name} stage")


def run_step(stage, rest):
    mounts, words = [], rest
    while words.startswith("--mount="):
        opt, _, words = words.partition(" ")
        fields = dict(f.split("=", 1) for f in opt[len("--mount="):].split(","))
        if fields.get("type") != "cache" or "target" not in fields:
            raise RuntimeError(f"RUN {opt}: only --mount=type=cache,target=... is supported")
        host = os.path.join(CACHE, "mounts", fields["target"].strip("/").replace("/", "_"))
        os.makedirs(host, exist_ok=True)
        mounts.append((host, fields["target"]))
        words = words.lstrip()
    script = f"cd {shlex.quote(stage.workdir)} && {words}"
    t = time.monotonic()
    log(f"{stage.name}: RUN {words[:110]}{'…' if len(words) > 110 else ''}")
    p = subprocess.run(chroot_cmd(stage, ["/bin/sh", "-c", script], mounts, stage.user, build=True))
    if p.returncode != 0:
        raise RuntimeError(f"{stage.name}: RUN failed with status {p.returncode}: {words}")
    log(f"{stage.name}: RUN done in {time.monotonic() - t:.0f} s")


def ignore_patterns():
    anchored, anywhere = [], []
    path = os.path.join(ROOT, ".dockerignore")
    for line in open(path) if os.path.exists(path) else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("**/"):
            anywhere.append(line[3:])
        else:
            anchored.append("./" + line.strip("/"))
    return anchored, anywhere


def copy_step(stage, rest, stages):
    words = shlex.split(rest)
    src_stage = None
    if words[0].startswith("--from="):
        src_stage = stages[words.pop(0)[len("--from="):]]
    if len(words) != 2 or any(w.startswith("--") for w in words):
        raise RuntimeError(f"COPY {rest}: one source and one destination only")
    src, dest = words
    dest_path = in_root(stage, dest if dest.startswith("/") else os.path.join(stage.workdir, dest))
    if src_stage is None:
        if src != ".":
            raise RuntimeError(f"COPY {src}: only the whole context (.) is supported")
        anchored, anywhere = ignore_patterns()
        os.makedirs(dest_path, exist_ok=True)
        excl = ["--anchored", *(f"--exclude={p}" for p in anchored),
                "--no-anchored", *(f"--exclude={p}" for p in anywhere)]
        pack = subprocess.Popen(["tar", "-C", ROOT, *excl, "-cf", "-", "."], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-C", dest_path, "-xf", "-", "--no-same-owner"], stdin=pack.stdout, check=True)
        if pack.wait() != 0:
            raise RuntimeError("COPY .: tar of the context failed")
        return
    src_path = in_root(src_stage, src)
    if os.path.isdir(src_path):
        os.makedirs(dest_path, exist_ok=True)
        subprocess.run(["cp", "-a", src_path + "/.", dest_path], check=True)
    elif os.path.isfile(src_path):
        os.makedirs(os.path.dirname(dest_path), exist_ok=True)
        subprocess.run(["cp", "-a", src_path, dest_path], check=True)
    else:
        raise RuntimeError(f"COPY --from={src_stage.name} {src}: not in that stage")
    subprocess.run(["chown", "-R", "0:0", dest_path], check=True)


def env_step(stage, rest):
    for word in shlex.split(rest):
        k, sep, v = word.partition("=")
        if not sep:
            raise RuntimeError(f"ENV {rest}: use KEY=VALUE")
        stage.env[k] = v


def build():
    stages, stage = {}, None
    for kw, rest in instructions(CONTAINERFILE):
        if kw == "FROM":
            m = re.fullmatch(r"(\S+?)(?:\s+AS\s+(\S+))?", rest, re.I)
            image, name = m.group(1), m.group(2) or f"stage{len(stages)}"
            if not re.fullmatch(r"(docker\.io/)?(library/)?debian:bookworm(-slim)?", image):
                raise RuntimeError(f"FROM {image}: only debian:bookworm(-slim) maps to the debootstrap root")
            stage = Stage(name, copy_base(name))
            stages[name] = stage
            log(f"stage {name}: {image} = a copy of the debootstrap bookworm root")
        elif kw == "ARG":
            k, _, v = rest.partition("=")
            stage.args[k] = v
        elif kw == "ENV":
            env_step(stage, rest)
        elif kw == "WORKDIR":
            stage.workdir = rest
            os.makedirs(in_root(stage, rest), exist_ok=True)
        elif kw == "RUN":
            run_step(stage, rest)
        elif kw == "COPY":
            copy_step(stage, rest, stages)
        elif kw == "USER":
            stage.user = rest
        elif kw == "ENTRYPOINT":
            stage.entrypoint = json.loads(rest)
        elif kw == "CMD":
            stage.cmd = json.loads(rest)
        elif kw == "HEALTHCHECK":
            m = re.search(r"\bCMD\s+(.*)$", rest)
            stage.healthcheck = m.group(1)
        elif kw == "EXPOSE":
            pass
        else:
            raise RuntimeError(f"{kw}: not supported by this check; extend deploy/image_steps.py")
    return stage


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def compose_healthcheck(stage, image_port, port):
    """deploy/compose.yaml's semrec health check, run in the image as compose would
    (its CMD form, the image's user), and what ties the file to this image."""
    try:
        import yaml
    except ImportError:
        log("compose.yaml not checked: python3-yaml is not installed")
        return
    with open(os.path.join(ROOT, "deploy/compose.yaml")) as f:
        compose = yaml.safe_load(f)
    svc, db = compose["services"]["semrec"], compose["services"]["db"]
    if svc["build"] != {"context": "..", "dockerfile": "deploy/Containerfile"}:
        raise RuntimeError(f"compose.yaml: semrec is not built from deploy/Containerfile: {svc['build']}")
    if "pgvector" not in db["image"] or "healthcheck" not in db:
        raise RuntimeError("compose.yaml: the db service is not a pgvector image with a health check")
    test = svc["healthcheck"]["test"]
    if test[0] != "CMD" or not any("/api/v1/health/ready" in a for a in test):
        raise RuntimeError(f"compose.yaml: semrec's health check is not a CMD on /api/v1/health/ready: {test}")
    argv = [a.replace(f"127.0.0.1:{image_port}", f"127.0.0.1:{port}") for a in test[1:]]
    status = subprocess.run(chroot_cmd(stage, argv, user=stage.user)).returncode
    if status != 0:
        raise RuntimeError(f"compose.yaml's health check {argv} exited with {status}")
    log(f"compose.yaml's semrec health check passes in the image: {shlex.join(test[1:])}")


def serve(stage):
    """The image's ENTRYPOINT + CMD as its USER, with loopback addresses (the chroot
    shares this machine's network) and the database; then its HEALTHCHECK."""
    if not stage.user or lookup_user(stage, stage.user)[0] == 0:
        raise RuntimeError("the image runs as root: it must end with USER <non-root>")
    port = free_port()
    image_port = stage.env.get("SEMREC_ADDR", "0.0.0.0:3000").rsplit(":", 1)[1]
    stage.env.update({
        "DATABASE_URL": DATABASE_URL,
        "SEMREC_ADMIN_PASSWORD": "image-steps-" + uuid.uuid4().hex[:12],
        # Loopback only, as every test here; the image listens on 0.0.0.0:3000.
        "SEMREC_ADDR": f"127.0.0.1:{port}",
        "SEMREC_METRICS_ADDR": "127.0.0.1:0",
    })
    argv = stage.entrypoint + stage.cmd
    log(f"run: {shlex.join(argv)} as {stage.user} (uid {lookup_user(stage, stage.user)[0]}) on 127.0.0.1:{port}")
    logf = open(os.path.join(WORK, "server.log"), "w")
    cmd = chroot_cmd(stage, ["/bin/sh", "-c", f"cd {shlex.quote(stage.workdir)} && exec {shlex.join(argv)}"],
                     user=stage.user)
    server = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    with open(os.path.join(WORK, "server.pid"), "w") as f:
        f.write(str(server.pid))
    try:
        probe = stage.healthcheck.replace(f"127.0.0.1:{image_port}", f"127.0.0.1:{port}")
        t, status = time.monotonic(), None
        while time.monotonic() - t < READY_SECS:
            if server.poll() is not None:
                raise RuntimeError(f"semrec exited with {server.returncode}; log: {WORK}/server.log")
            status = subprocess.run(chroot_cmd(stage, ["/bin/sh", "-c", probe], user=stage.user),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            if status == 0:
                break
            time.sleep(1)
        if status != 0:
            raise RuntimeError(f"HEALTHCHECK did not pass within {READY_SECS} s")
        code = subprocess.run(
            chroot_cmd(stage, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               f"http://127.0.0.1:{port}/api/v1/health/ready"], user=stage.user),
            capture_output=True, text=True).stdout
        uid = os.stat(f"/proc/{server.pid}").st_uid
        log(f"HEALTHCHECK passed after {time.monotonic() - t:.1f} s: /api/v1/health/ready {code}; "
            f"the server process runs as uid {uid}")
        if code != "200" or uid == 0:
            raise RuntimeError(f"ready answered {code}, server uid {uid}")
        compose_healthcheck(stage, image_port, port)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def main():
    t = time.monotonic()
    final = build()
    log(f"build steps done in {time.monotonic() - t:.0f} s")
    serve(final)
    log(f"PASS the Containerfile's steps built semrec and its image answered ready 200 "
        f"({time.monotonic() - t:.0f} s)")


if __name__ == "__main__":
    # A SIGTERM (the wrapper's time bound) ends the server in serve()'s finally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except RuntimeError as e:
        log(f"FAIL {e}")
        sys.exit(1)
