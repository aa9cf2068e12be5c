"""A throwaway Valerix stack for the observability tests: one PostgreSQL 15 cluster (order_db and
inventory_db), the real inventory and order binaries, two prometheus-postgres-exporter processes,
optionally backup-service (WAL archiving into an encrypted pgBackRest repository, one stanza `order` for the
cluster) and Prometheus, all on free 127.0.0.1 ports, all in temporary folders.

Only processes this module started are ever stopped, by PID (pg_ctl stops the cluster by its own data
folder). Children get SIGKILL if the test process dies (PR_SET_PDEATHSIG). Standard library only.
"""
import ctypes
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROMETHEUS_DIR = os.path.join(REPO, "deploy", "prometheus")
PG_BIN = os.environ.get("VALERIX_PG_BINDIR") or "/usr/lib/postgresql/15/bin"
ADMIN_TOKEN = "observability-test-token"
MONITOR_ROLE = "valerix_monitor"

# Ports of the local dev stack: never used by tests.
_RESERVED_PORTS = {3000, 3001, 3002, 3003, 5432, 5433, 8080, 9090, 9187, 9188}
_handed_out = set()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    """A TCP port free on 127.0.0.1 now (kernel-chosen), never a dev-stack port nor one handed out before."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _RESERVED_PORTS and port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found")


def need_tool(name, path=None):
    found = path if path and os.path.exists(path) else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed (./valerix deps installs it)")
    return found


def _die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# ---------------------------------------------------------------------------------------------- HTTP

class HttpError(Exception):
    pass


def http(method, url, body=None, headers=None, timeout=10):
    """(status, body text); raises HttpError on a connection problem."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        raise HttpError(f"{method} {url}: {e}") from e


def wait_http_ok(url, timeout, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return True
        except HttpError:
            pass
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------------------------- processes

class Process:
    def __init__(self, name, argv, env, log_path, cwd=None):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.log_file = open(log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env)
        self.popen = subprocess.Popen(argv, env=full_env, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                      stderr=subprocess.STDOUT, close_fds=True, preexec_fn=_die_with_parent,
                                      cwd=cwd)
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def log_text(self, tail=60):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return ""

    def stop(self, grace=10):
        """SIGTERM, then SIGKILL after `grace` s; only this process (by PID), only while it is ours."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self.log_file.close()


class Postgres:
    """A throwaway cluster like libs/testing's PostgresServer (trust auth, no fsync)."""

    def __init__(self, extra_conf=""):
        self.extra_conf = extra_conf
        self.dir = tempfile.mkdtemp(prefix="valerix-obs-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = None
        self.running = False
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _tool(self, tool, *args):
        argv = [os.path.join(PG_BIN, tool), *args]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    def start(self):
        r = self._tool("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                       "--locale=C.UTF-8", "--no-sync", "--no-instructions")
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{r.stdout}\n{r.stderr}")
        for attempt in range(3):
            self.port = free_port()
            conf = (f"\n# tests/observability: a throwaway cluster\nlisten_addresses = '127.0.0.1'\n"
                    f"port = {self.port}\nunix_socket_directories = '{self.dir}'\nfsync = off\n"
                    f"synchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n{self.extra_conf}")
            with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
                f.write(conf)
            r = self._tool("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "postgres.log"), "-w", "-t",
                           "60", "start")
            if r.returncode == 0:
                self.running = True
                return
            log_text = open(os.path.join(self.dir, "postgres.log"), errors="replace").read()
            if "could not bind" not in log_text or attempt == 2:
                raise RuntimeError(f"pg_ctl start failed:\n{r.stdout}\n{r.stderr}\n{log_text}")

    def sql(self, sql, db="postgres"):
        # Through stdin, so that each statement runs on its own (CREATE DATABASE refuses a transaction).
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", "postgres", "-d", db, "-At", "-f", "-"],
                           input=sql, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {sql}\n{r.stderr}")
        return r.stdout

    def stop(self):
        if self.running:
            self._tool("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop")
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- the stack

class Stack:
    """Start with `with Stack(...) as s:`; everything is stopped on exit. The work folder (logs) is removed
    when the block succeeds and kept (and printed) when it fails."""

    def __init__(self, inventory_bin, order_bin, order_env=None, prometheus=True, scrape_interval="1s",
                 backup_bin=None):
        self.inventory_bin, self.order_bin, self.backup_bin = inventory_bin, order_bin, backup_bin
        self.order_env = order_env or {}
        self.with_prometheus = prometheus
        self.scrape_interval = scrape_interval
        self.work = tempfile.mkdtemp(prefix="valerix-obs-")
        self.processes = []
        self.pg = None
        self.ports = {}
        self.prometheus_started_at = None

    # -- lifecycle

    def __enter__(self):
        self._old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            self.start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        for p in reversed(self.processes):
            try:
                p.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {p.name} (pid {p.pid}): {e}")
        self.processes = []
        if self.pg:
            self.pg.stop()
            self.pg = None
        signal.signal(signal.SIGTERM, self._old_term)
        if exc_type is None:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log(f"logs kept in {self.work}")
        return False

    @property
    def jobs(self):
        """The scrape jobs of this stack (render_config.py's job names)."""
        return ["order", "inventory", *(["backup"] if self.backup_bin else []), "order-db", "inventory-db"]

    def start(self):
        t0 = time.monotonic()
        extra_conf = ""
        if self.backup_bin:
            # WAL archiving into the pgBackRest repository, on from the first start (no restart needed); the
            # configuration file it names is written once the cluster's port is known.
            self.pgbackrest_dir = os.path.join(self.work, "pgbackrest")
            self.pgbackrest_conf = os.path.join(self.pgbackrest_dir, "pgbackrest.conf")
            extra_conf = (f"wal_level = replica\narchive_mode = on\narchive_command = 'pgbackrest "
                          f"--config={self.pgbackrest_conf} --stanza=order archive-push %p'\n")
        self.pg = Postgres(extra_conf)
        self.pg.start()
        self.pg.sql("CREATE ROLE inventory_svc LOGIN; CREATE DATABASE inventory_db OWNER inventory_svc;"
                    "CREATE ROLE order_svc LOGIN; CREATE DATABASE order_db OWNER order_svc;")
        # The exporters' least-privilege role, as ./valerix up creates it.
        self.pg.sql(f"CREATE ROLE {MONITOR_ROLE} LOGIN PASSWORD 'unused-with-trust'; "
                    f"GRANT pg_monitor TO {MONITOR_ROLE};")
        log(f"postgres on 127.0.0.1:{self.pg.port} ({time.monotonic() - t0:.1f} s)")
        self.inventory = self._start_service("inventory", self.inventory_bin, {
            "VALERIX_DB_URL": f"host=127.0.0.1 port={self.pg.port} dbname=inventory_db user=inventory_svc",
        })
        order_env = {
            "VALERIX_DB_URL": f"host=127.0.0.1 port={self.pg.port} dbname=order_db user=order_svc",
            "VALERIX_INVENTORY_URL": f"http://127.0.0.1:{self.ports['inventory']}",
        }
        order_env.update(self.order_env)
        self.order = self._start_service("order", self.order_bin, order_env)
        pass_file = os.path.join(self.work, "monitor-password")
        with open(pass_file, "w") as f:
            f.write("unused-with-trust")
        os.chmod(pass_file, 0o600)
        exporter = need_tool("prometheus-postgres-exporter")
        for job in ("order-db", "inventory-db"):
            # The same DATA_SOURCE_* scheme as deploy/local/programs/60-*-db-exporter.conf (both exporters
            # watch the one test cluster).
            self._start_with_port(job, lambda port: (
                [exporter, f"--web.listen-address=127.0.0.1:{port}"],
                {"DATA_SOURCE_URI": f"127.0.0.1:{self.pg.port}/postgres?sslmode=disable",
                 "DATA_SOURCE_USER": MONITOR_ROLE, "DATA_SOURCE_PASS_FILE": pass_file}), "/metrics")
        if self.backup_bin:
            self._start_backup()
        if self.with_prometheus:
            self._start_prometheus()
        log(f"stack up in {time.monotonic() - t0:.1f} s: {self.ports}")

    def _start_with_port(self, name, make, live_path, timeout=30, cwd=None):
        for attempt in range(3):
            port = free_port()
            argv, env = make(port)
            proc = Process(name, argv, env, os.path.join(self.work, f"{name}.log"), cwd=cwd)
            self.processes.append(proc)
            if wait_http_ok(f"http://127.0.0.1:{port}{live_path}", timeout, proc.popen):
                self.ports[name] = port
                return proc
            proc.stop()
            self.processes.remove(proc)
            text = proc.log_text()
            if "address already in use" not in text.lower() or attempt == 2:
                raise RuntimeError(f"{name} did not become live on 127.0.0.1:{port}; log:\n{text}")
        raise AssertionError("unreachable")

    def _start_service(self, name, binary, env):
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"{binary} is not built")
        base = {"VALERIX_HTTP_HOST": "127.0.0.1", "VALERIX_ADMIN_TOKEN": ADMIN_TOKEN, "VALERIX_LOG_LEVEL": "warn"}
        base.update(env)
        return self._start_with_port(name, lambda port: ([binary], {**base, "VALERIX_HTTP_PORT": str(port)}), "/live")

    def _start_backup(self):
        """backup-service as the PostgreSQL OS user (pgBackRest's files and the drills' scratch clusters belong
        to it), over an encrypted repository in the work folder with one stanza, `order`: pgBackRest backs up a
        whole cluster, so that stanza holds order_db and inventory_db. With the schedule on, the service makes
        a full backup at once (fresh repository), then the day's external sync (into a folder) and a restore
        drill; wait_backups() waits for them."""
        if not os.access(self.backup_bin, os.X_OK):
            raise RuntimeError(f"{self.backup_bin} is not built")
        need_tool("pgbackrest")
        d = self.pgbackrest_dir
        for sub in ("repo", "log", "lock", "spool", "state", "external"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(self.pgbackrest_conf, "w") as f:
            f.write(f"[global]\nrepo1-path={d}/repo\nrepo1-cipher-type=aes-256-cbc\n"
                    f"repo1-cipher-pass={secrets.token_hex(32)}\nrepo1-retention-full=2\ncompress-type=zst\n"
                    f"start-fast=y\narchive-async=n\nlog-path={d}/log\nlock-path={d}/lock\nspool-path={d}/spool\n"
                    f"log-level-file=detail\n\n"
                    f"[order]\npg1-path={self.pg.data}\npg1-port={self.pg.port}\npg1-socket-path={self.pg.dir}\n")
        os.chmod(self.pgbackrest_conf, 0o640)
        argv = [self.backup_bin]
        if os.geteuid() == 0:
            # The work folder stays root's, but postgres may pass through it to its own folder.
            os.chmod(self.work, 0o711)
            pw = pwd.getpwnam("postgres")
            for root, dirs, files in os.walk(d):
                os.chown(root, pw.pw_uid, pw.pw_gid)
                for name in files:
                    os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
            # exec keeps the PID, so stop() signals the service itself.
            argv = [need_tool("setpriv"), "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]
        env = {
            "VALERIX_HTTP_HOST": "127.0.0.1",
            "VALERIX_ADMIN_TOKEN": ADMIN_TOKEN,
            "VALERIX_LOG_LEVEL": "info",
            "VALERIX_PG_BINDIR": PG_BIN,
            "VALERIX_BACKUP_PGBACKREST_CONFIG": self.pgbackrest_conf,
            "VALERIX_BACKUP_STATE_DIR": os.path.join(d, "state"),
            "VALERIX_BACKUP_EXTERNAL_DIR": os.path.join(d, "external"),
            "VALERIX_BACKUP_DATABASES": "order=order_db",
            "VALERIX_BACKUP_COUNT_TABLES": "order=orders",
            "VALERIX_BACKUP_INFO_INTERVAL_S": "1",
            "VALERIX_BACKUP_CHECK_INTERVAL_S": "10",
            "VALERIX_BACKUP_TICK_MS": "200",
            "VALERIX_BACKUP_SYNC_OFFSET_S": "0",  # the day's sync is due at once, whatever the time of day
        }
        self._start_with_port("backup", lambda port: (argv, {**env, "VALERIX_HTTP_PORT": str(port)}), "/live",
                              cwd=d)

    def backup_jobs(self):
        status, body = http("GET", self.url("backup", "/api/v1/backups/jobs"))
        if status != 200:
            raise RuntimeError(f"GET /api/v1/backups/jobs: {status} {body[:300]}")
        return json.loads(body)["jobs"]

    def wait_backups(self, timeout=180):
        """Waits until backup-service has finished a backup, an external sync and a restore drill (its
        schedule starts them on a fresh repository); returns [problems] (failed jobs, or what did not finish)."""
        kinds = ("backup", "external_sync", "restore_drill")
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while True:
            jobs = self.backup_jobs()
            finished = {}
            for job in reversed(jobs):  # oldest first: the newest finished job of each kind wins
                if job.get("status") not in ("queued", "running"):
                    finished[job.get("kind")] = job
            if all(k in finished for k in kinds) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        problems = []
        for kind in kinds:
            job = finished.get(kind)
            if job is None:
                problems.append(f"backup-service finished no {kind} job within {timeout} s; jobs: "
                                f"{json.dumps(jobs)[:2000]}")
            elif job.get("status") != "succeeded":
                problems.append(f"backup-service {kind} job {job.get('job_id')} {job.get('status')}: {job.get('error')}"
                                f"\n    {json.dumps(job)[:2000]}")
        if not problems:
            log(f"backup-service: backup, external sync and restore drill done "
                f"(waited {time.monotonic() - t0:.1f} s)")
        return problems

    def prometheus_config(self, port_of):
        targets = [f"--target={job}=127.0.0.1:{port_of[job]}" for job in self.jobs]
        out = os.path.join(self.work, "prometheus.yml")
        subprocess.run([sys.executable, os.path.join(PROMETHEUS_DIR, "render_config.py"),
                        f"--jobs={','.join(self.jobs)}", *targets,
                        f"--scrape-interval={self.scrape_interval}",
                        f"--rules-dir={os.path.join(PROMETHEUS_DIR, 'rules')}",
                        "--generated-by=tests/observability", f"--out={out}"], check=True)
        return out

    def _start_prometheus(self):
        prometheus = need_tool("prometheus")
        config = self.prometheus_config(self.ports)
        data = os.path.join(self.work, "prometheus-data")
        self._start_with_port("prometheus", lambda port: (
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            {}), "/-/ready")
        self.prometheus_started_at = time.monotonic()

    # -- helpers

    def url(self, name, path=""):
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def metrics_page(self, name):
        status, body = http("GET", self.url(name, "/metrics"))
        if status != 200:
            raise RuntimeError(f"GET {self.url(name, '/metrics')}: {status}")
        return body

    def admin(self, name, method, path, body=None):
        return http(method, self.url(name, path), body, {"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def prom_api(self, path, **params):
        """The `data` of a Prometheus HTTP API answer; raises RuntimeError with its error otherwise."""
        url = self.url("prometheus", path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, body = http("GET", url, timeout=15)
        try:
            doc = json.loads(body)
        except ValueError:
            raise RuntimeError(f"{path}: HTTP {status}: {body[:300]}")
        if doc.get("status") != "success":
            raise RuntimeError(f"{doc.get('errorType')}: {doc.get('error')}")
        return doc["data"]

    def query(self, expr):
        """Instant query: the list of result series (vector) or [scalar] for a scalar result."""
        data = self.prom_api("/api/v1/query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [data["result"]]
        return data["result"]
