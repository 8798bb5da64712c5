"""gunicorn settings for the API: ``gunicorn -c gunicorn.conf.py wsgi:app`` (the image's command).

Values come from ``shared.config.Settings`` (PORT, WEB_CONCURRENCY, WEB_THREADS, WEB_TIMEOUT,
LOG_LEVEL, and REDIS_URL for the worker count); flags on the command line win over this file
(``make run`` uses this file and passes only ``--bind``).
"""

from __future__ import annotations

import math
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared.config import Settings  # noqa: E402
from shared.logging import logging_config  # noqa: E402


def available_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 quota (``docker --cpus``)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(cpus, 1)


def counts_in_memory(settings: Settings) -> bool:
    """The rate limits are on and count in each process's memory (no REDIS_URL)."""
    return settings.ratelimit_enabled and not settings.redis_url


def worker_processes(settings: Settings, cpus: int) -> int:
    """WEB_CONCURRENCY, or two per CPU plus one; but ONE process when the rate limits count in
    memory: two processes would each keep their own counters and let through twice the limit
    (docs/abuse.md). That process serves WEB_THREADS requests at once."""
    if counts_in_memory(settings):
        return 1
    return settings.web_concurrency or 2 * cpus + 1


def nworkers_changed(server, new_value, old_value) -> None:
    """The same rule whenever the number of processes changes: --workers or GUNICORN_CMD_ARGS at
    start, a reload (SIGHUP) that reads them again, SIGTTIN. A reload also starts ``workers``
    processes before trimming to this number, so the setting itself goes back to one too."""
    if counts_in_memory(settings) and new_value > 1:
        server.log.warning(
            "%d workers asked for, serving with 1: without REDIS_URL the rate limits count in "
            "memory, exact only in one process (set REDIS_URL to run more)",
            new_value,
        )
        server.cfg.set("workers", 1)
        server.num_workers = 1


settings = Settings.from_env()

bind = [f"0.0.0.0:{settings.port}"]
# Threads share a process's database pool (DB_POOL_SIZE should be at least WEB_THREADS).
worker_class = "gthread"
workers = worker_processes(settings, available_cpus())
threads = settings.web_threads
# A request that takes longer than this gets its worker restarted.
timeout = settings.web_timeout
# On SIGTERM, requests in flight get this long to finish (keep it under the container's stop
# timeout: docker-compose.yml gives 30 seconds).
graceful_timeout = 25
keepalive = 5
# Recycle workers now and then, so a slow leak never grows into an outage; but not the one process
# that counts the rate limits in memory (a recycle would start every counter again at zero).
max_requests = 0 if counts_in_memory(settings) else 2000
max_requests_jitter = 0 if counts_in_memory(settings) else 200
# The heartbeat file in memory, not on a container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Processes are managed by the container runtime; no control socket in $HOME.
control_socket_disable = True

# Logs: one JSON object per line on stderr, the access log included (shared.logging).
loglevel = settings.log_level.lower()
logconfig_dict = logging_config("api", settings.log_level)


def post_worker_init(worker) -> None:
    """Leave Ctrl-C to the master: it stops the workers with SIGQUIT.

    A terminal sends SIGINT to every process of ``make run``; a gthread worker that got it and the
    master's SIGQUIT together ran its quit handler twice, the second inside the first's
    ``ThreadPoolExecutor.shutdown``, and hung on that lock (python/cpython#121649) until the master
    killed it after ``graceful_timeout``: Ctrl-C then took half a minute.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
