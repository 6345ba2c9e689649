"""Wattscope for Python training and inference scripts: one file, standard library only, Python 3.8+.

    import wattscope

    with wattscope.run(model="resnet50", dataset="imagenet-val") as r:
        correct = evaluate(model, loader)
        r.record(inferences=len(loader.dataset), correct=correct)
    print(r.summary["energy_wh"], r.summary["composite_score"])

    @wattscope.measure(model="resnet50", params_m=25.6, macs_g=4.1)
    def evaluate() -> None:
        ...
        wattscope.current().record(inferences=n, accuracy=acc)

Windows, for the energy of each epoch, evaluation pass or generation step, instantly and without
the API: the collector on this host answers each edge at once (its GET /energy), and a window is the
difference of two readings, exact for energy counters.

    wattscope.begin_window("epoch-1")
    train_one_epoch()
    m = wattscope.end_window("epoch-1")
    print(m.energy_j, m.gpu_energy_j, m.duration_s)

    with wattscope.window("eval") as w:     # also a decorator: @wattscope.window("step")
        evaluate()
    print(w.energy_j)

Windows nest and overlap by name; ``record=True`` also files the window as a run through the API,
in the background (it shows in the runs list and comparisons, with its scores).

Measuring never breaks your script: when the API cannot be reached, a warning naming its URL is
printed once and the script runs on, unmeasured; ``r.summary`` is then empty, and every figure in
it reads as None (``r.measured`` is False). Under ``wattscope run`` (WATTSCOPE_RUN_ID set) the
block attaches to that run and only records results into it.

The run's GPUs are the ones CUDA_VISIBLE_DEVICES (else NVIDIA_VISIBLE_DEVICES) names when the
block starts, or ``gpus=[...]`` (indices or UUIDs); neither: every GPU of the host. The collector
on this host (WATTSCOPE_COLLECTOR_URL, default http://127.0.0.1:$WATTSCOPE_COLLECTOR_PORT or
9101) is told this process's id and attributes to the run the share of the host's energy that
this process and its children used (``r.summary["energy_attributed_j"]``);
``score_energy="attributed"`` makes the scores use that share.

Configuration: WATTSCOPE_API_URL (default http://127.0.0.1:8080), WATTSCOPE_API_TOKEN,
WATTSCOPE_HOST (default this machine's hostname, as the collector tags it),
WATTSCOPE_API_TIMEOUT (seconds per request, default 10), WATTSCOPE_STOP_TIMEOUT (seconds for the
stop, which waits for the collectors' last points; default 60), WATTSCOPE_COLLECTOR_URL (the
collector on this host, for windows; default http://127.0.0.1:9101), WATTSCOPE_COLLECTOR_TIMEOUT
(seconds a window's edge may wait for it; default 0.1).
"""

import atexit
import functools
import http.client
import json
import math
import os
import queue
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Literal, Mapping, NamedTuple, Optional, Set, Tuple, TypedDict, TypeVar, cast

__all__ = ["run", "measure", "current", "Run", "Summary", "SourceEnergy", "Attributed", "ServedWork", "HEARTBEAT_SECONDS",
           "begin_window", "end_window", "window", "Measurement"]
__version__ = "0.1.0"

HEARTBEAT_SECONDS = 60.0
# The stop answers once the collectors' last points are in; say why the script waits past this.
WAIT_NOTICE_SECONDS = 1.0
WAITING = "wattscope: waiting for the collectors' last points\u2026"

_said: Set[str] = set()
_local = threading.local()
F = TypeVar("F", bound=Callable[..., Any])

#: what a run is (the API's `kind`): an evaluation, a training, or the idle baseline of a host
RunKind = Literal["inference", "training", "baseline"]
#: the energy the scores use: the run's devices (default), or what its own processes were attributed
ScoreEnergy = Literal["scoped", "attributed"]


def _write(text: str) -> None:
    """Writes to stderr; a closed or missing stderr (pythonw, daemons) must not break the script."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - nowhere left to report it
        pass


def _say_once(message: str, key: Optional[str] = None) -> None:
    # A script that starts a run per batch with the API down gets one line, not thousands.
    k = message if key is None else key
    if k not in _said:
        _said.add(k)
        _write("wattscope: %s\n" % message)


def _api_url() -> str:
    return os.environ.get("WATTSCOPE_API_URL", "http://127.0.0.1:8080").rstrip("/")


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and math.isfinite(value)):
        _say_once("%s=%s is not a number of seconds; using %g" % (name, text, default))
        return default
    return value


def _visible_devices(value: Optional[str]) -> Optional[Tuple[Optional[List[str]]]]:
    """CUDA_VISIBLE_DEVICES as CUDA reads it: indices or UUIDs up to the first invalid entry;
    "all" every GPU (None), "", "none", "void" or -1 no GPU ([]); unset: None (no answer)."""
    if value is None:
        return None
    v = value.strip()
    if v == "all":
        return (None,)
    if v in ("", "none", "void"):
        return ([],)
    out: List[str] = []
    for part in (p.strip() for p in v.split(",")):
        if part.isdigit() or (part[:4] in ("GPU-", "MIG-") and all(c in "0123456789abcdefABCDEF-" for c in part[4:]) and len(part) > 4):
            out.append(part)
        else:
            break
    return (out,)


def _scope_from_env(env: Mapping[str, str]) -> Optional[Tuple[Optional[List[str]], str]]:
    """The run's GPUs from CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES; None when neither is set."""
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        found = _visible_devices(env.get(name))
        if found is not None:
            return (found[0], name)
    return None


def _collector_url() -> str:
    return os.environ.get("WATTSCOPE_COLLECTOR_URL") or "http://127.0.0.1:%s" % (os.environ.get("WATTSCOPE_COLLECTOR_PORT") or "9101")


def _collector(method: str, path: str, body: Optional[Dict[str, Any]] = None) -> bool:
    """Tells the collector on this host about the run's process; best effort, quiet: without a
    collector here the run just has no attributed energy (its summary says why)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(_collector_url().rstrip("/") + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=2.0) as res:
            return 200 <= int(res.status) < 300
    except Exception:  # noqa: BLE001 - attribution is optional
        return False


class _Failure(Exception):
    """A request that failed, told in words that name the API's URL."""


def _explain(err: Exception) -> str:
    if isinstance(err, _Failure):
        return str(err)
    # an answer of an unexpected shape (another service at that URL), or a bug here: still name the URL
    return "talking to the Wattscope API at %s failed (%s: %s)" % (_api_url(), type(err).__name__, err)


def _request(method: str, path: str, body: Optional[Dict[str, Any]] = None, timeout: Optional[float] = None,
             timeout_variable: str = "WATTSCOPE_API_TIMEOUT") -> Any:
    url = _api_url()
    if timeout is None:
        timeout = _seconds("WATTSCOPE_API_TIMEOUT", 10.0)
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url + path, data=data, method=method)
    req.add_header("accept", "application/json")
    if data is not None:
        req.add_header("content-type", "application/json")
    token = os.environ.get("WATTSCOPE_API_TOKEN")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            text = res.read().decode("utf-8")
        return json.loads(text) if text else None
    except Exception as err:  # noqa: BLE001 - every failure becomes one message
        raise _Failure(_describe(err, url, "%s %s" % (method, path), timeout, timeout_variable)) from None


def _describe(err: Exception, url: str, what: str, timeout: float, timeout_variable: str) -> str:
    api = "the Wattscope API at %s" % url
    reason = err.reason if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError) else err
    if isinstance(reason, socket.timeout):  # connect or read; TimeoutError from 3.10 on, the same class
        return "%s did not answer %s within %g s (%s)" % (api, what, timeout, timeout_variable)
    if isinstance(err, urllib.error.HTTPError):
        if err.code == 401:
            return "%s wants a token: set WATTSCOPE_API_TOKEN" % api
        try:
            detail = ": " + str(json.loads(err.read().decode("utf-8"))["message"])
        except Exception:  # noqa: BLE001 - any body, or none, is fine for a message
            detail = ""
        return "%s answered %d to %s%s" % (api, err.code, what, detail)
    if isinstance(err, urllib.error.URLError):
        return "cannot reach %s (%s): start it with `wattscope up`, or set WATTSCOPE_API_URL" % (api, err.reason)
    if isinstance(err, ValueError):  # not JSON: something else answers at that URL
        return "%s gave %s an answer that is not the Wattscope API's JSON" % (api, what)
    return "%s failed on %s: %s: %s" % (api, what, type(err).__name__, err)


class _SourceEnergyFields(TypedDict):
    host: str
    source: str
    domain: str
    method: str
    in_run: bool
    energy_j: float
    avg_power_w: float
    coverage: float


class SourceEnergy(_SourceEnergyFields, total=False):
    """One source's energy in a run (``summary["sources"]``); ``reading`` where its collector said."""

    reading: str


class PartialSource(TypedDict):
    host: str
    source: str
    coverage: float


class AttributedSource(TypedDict):
    host: str
    source: str
    domain: str
    energy_j: float
    share: float


class Attributed(TypedDict):
    """The share of the hosts' energy the run's own processes used (``summary["attributed"]``)."""

    sources: List[AttributedSource]
    notes: List[str]
    model: str


class ServedWork(TypedDict):
    """What one serving engine on the run's hosts did in its window (``summary["workload"]``)."""

    host: str
    engine: str
    model_name: str
    instance: str
    requests: Optional[float]
    prompt_tokens: Optional[float]
    output_tokens: Optional[float]
    coverage: float
    energy_j: Optional[float]


class Summary(TypedDict, total=False):
    """The API's summary of a run (energy per source, gross and net energy, every score): the keys
    of GET /api/runs/{id}, typed (test/clients/python-body.test.ts holds them to the API's schema).

    Every key is optional to the type checker: a run that could not be measured (API down, stop
    failed) has an empty summary, and any key it does not hold reads as None instead of raising,
    so ``r.summary["energy_wh"]`` is safe; ``r.measured`` tells them apart.
    """

    run_id: str
    model: str
    platform: str
    kind: Literal["inference", "training", "baseline", "imported"]
    status: Literal["running", "completed", "failed", "abandoned"]
    dataset: Optional[str]
    hosts: List[str]
    labels: Dict[str, str]
    batch_size: Optional[float]
    params_m: Optional[float]
    macs_g: Optional[float]
    started_at: str
    ended_at: Optional[str]
    duration_s: Optional[float]
    avg_gpu_power_w: Optional[float]
    energy_wh: Optional[float]
    avg_gpu_util_pct: Optional[float]
    avg_gpu_mem_pct: Optional[float]
    avg_cpu_pct: Optional[float]
    energy_j: Optional[float]
    energy_net_j: Optional[float]
    avg_power_w: Optional[float]
    coverage: Optional[float]
    partial: bool
    partial_sources: List[PartialSource]
    partial_final: Optional[str]
    clock_offsets: Dict[str, float]
    clock_unknown: List[str]
    sources: List[SourceEnergy]
    gpus: Optional[List[str]]
    gpus_from: Optional[str]
    energy_host_j: Optional[float]
    energy_attributed_j: Optional[float]
    attributed: Optional[Attributed]
    score_energy: ScoreEnergy
    carbon_g: Optional[float]
    energy_cost: Optional[float]
    series_id: Optional[str]
    warmup: bool
    steady_rise_s: Optional[float]
    steady_tail_s: Optional[float]
    steady_s: Optional[float]
    steady_power_w: Optional[float]
    steady_reason: Optional[str]
    requests: Optional[float]
    prompt_tokens: Optional[float]
    output_tokens: Optional[float]
    energy_per_request_j: Optional[float]
    energy_per_output_token_j: Optional[float]
    workload: List[ServedWork]
    inferences: Optional[float]
    inferences_from: Optional[Literal["given", "requests"]]
    correct: Optional[float]
    accuracy: Optional[float]
    energy_per_inference_uwh: Optional[float]
    energy_per_inference_steady_uwh: Optional[float]
    inferences_per_s: Optional[float]
    inferences_per_j: Optional[float]
    composite_score: Optional[float]
    netscore: Optional[float]
    info_density: Optional[float]
    energy_delay_product: Optional[float]
    null_reasons: Dict[str, str]


class _Answer(Dict[str, Any]):
    """The summary as the script holds it: a key it does not hold reads as None instead of raising."""

    def __init__(self, data: Optional[Dict[str, Any]] = None, measured: bool = False) -> None:
        super().__init__(data or {})
        self.measured = measured

    def __missing__(self, key: str) -> None:
        return None


def _summary(data: Optional[Dict[str, Any]] = None, measured: bool = False) -> Summary:
    return cast(Summary, _Answer(data, measured))


class Run:
    """A measured run. Use it as a context manager; call record() with what the run achieved."""

    def __init__(self, model: str, dataset: Optional[str] = None, kind: RunKind = "inference", hosts: Optional[List[str]] = None,
                 platform: Optional[str] = None, batch_size: Optional[int] = None, params_m: Optional[float] = None,
                 macs_g: Optional[float] = None, labels: Optional[Dict[str, str]] = None, run_id: Optional[str] = None,
                 gpus: Optional[List[str]] = None, score_energy: Optional[ScoreEnergy] = None) -> None:
        self.model = model
        self._start: Dict[str, Any] = {"model": model, "kind": kind,
                                       "hosts": hosts or [os.environ.get("WATTSCOPE_HOST") or socket.gethostname()]}
        for key, value in (("dataset", dataset), ("platform", platform), ("batch_size", batch_size), ("params_m", params_m),
                           ("macs_g", macs_g), ("labels", labels), ("run_id", run_id), ("score_energy", score_energy)):
            if value is not None:
                self._start[key] = value
        if gpus is not None:
            self._start["gpus"] = [str(g) for g in gpus]
            self._start["gpus_from"] = "given"
        self._result: Dict[str, Any] = {}
        self.run_id: Optional[str] = None
        self.summary: Summary = _summary()
        self._measured = False
        self._attached = False
        self._followed = False
        self._stop_heartbeat = threading.Event()

    @property
    def measured(self) -> bool:
        """Whether ``summary`` holds the API's figures for this run."""
        return self._measured

    def record(self, inferences: Optional[int] = None, correct: Optional[int] = None, accuracy: Optional[float] = None,
               labels: Optional[Dict[str, str]] = None) -> "Run":
        """What the run did: counts and accuracy (a fraction, 0-1); sent when the run stops."""
        for key, value in (("inferences", inferences), ("correct", correct), ("accuracy", accuracy), ("labels", labels)):
            if value is not None:
                self._result[key] = value
        return self

    def start(self) -> "Run":
        outer = os.environ.get("WATTSCOPE_RUN_ID")
        try:
            if outer:
                self.run_id, self._attached = outer, True
            else:
                start = dict(self._start)
                if "gpus" not in start:
                    scope = _scope_from_env(os.environ)
                    if scope is not None and scope[0] is not None:
                        start["gpus"], start["gpus_from"] = scope
                self.run_id = str(_request("POST", "/api/runs", start)["run_id"])
                self._followed = _collector("POST", "/runs", {"run_id": self.run_id, "pids": [os.getpid()]})
                threading.Thread(target=self._heartbeat, name="wattscope-heartbeat", daemon=True).start()
        except Exception as err:  # noqa: BLE001 - measuring never breaks the script
            _say_once("%s; the script goes on unmeasured" % _explain(err))
            self.run_id = None
        stack = getattr(_local, "runs", [])
        stack.append(self)
        _local.runs = stack
        return self

    def _heartbeat(self) -> None:
        while not self._stop_heartbeat.wait(HEARTBEAT_SECONDS):
            try:
                _request("POST", "/api/runs/%s/heartbeat" % self.run_id)
            except Exception:  # noqa: BLE001 - a missed heartbeat is not worth a traceback
                pass

    def stop(self, failed: bool = False) -> Summary:
        """Stops the run and returns its summary (also in ``self.summary``); never raises."""
        if self._stop_heartbeat.is_set():  # stopped already (stop() called inside the block): keep that answer
            return self.summary
        stack = getattr(_local, "runs", [])
        if self in stack:
            stack.remove(self)
        self._stop_heartbeat.set()
        if self.run_id is None:
            return self.summary
        try:
            if self._attached:
                # the outer `wattscope run` stops it; this block only adds its results
                path = "/api/runs/%s" % self.run_id
                answer = _request("PATCH", path, self._result) if self._result else _request("GET", path)
            else:
                if self._followed:
                    _collector("DELETE", "/runs/%s" % self.run_id)
                body = dict(self._result)
                body["status"] = "failed" if failed else "completed"
                answer = _while_waiting(lambda: _request("POST", "/api/runs/%s/stop" % self.run_id, body,
                                                         _seconds("WATTSCOPE_STOP_TIMEOUT", 60.0), "WATTSCOPE_STOP_TIMEOUT"))
            self.summary = _summary(answer, measured=True)
            self._measured = True
        except Exception as err:  # noqa: BLE001 - measuring never breaks the script
            later = "" if self._attached else (
                "; run %s may still be running: finish it later with `curl -X POST %s/api/runs/%s/stop`, then `wattscope runs show %s`"
                % (self.run_id, _api_url(), self.run_id, self.run_id))
            _say_once(_explain(err) + later)
        return self.summary

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        # returns None: the script's own exceptions (KeyboardInterrupt included) go on as they were
        self.stop(failed=exc_type is not None)


T = TypeVar("T")


def _while_waiting(call: Callable[[], T]) -> T:
    """Runs ``call``; past WAIT_NOTICE_SECONDS, tells stderr why the script waits, and for how long."""
    done = threading.Event()
    shown = threading.Event()
    started = time.monotonic()
    try:
        live = sys.stderr.isatty()  # a ticking counter only where a person watches
    except Exception:  # noqa: BLE001 - no stderr, or a replaced one without isatty
        live = False

    def notice() -> None:
        if done.wait(WAIT_NOTICE_SECONDS):
            return
        shown.set()
        _write(WAITING if live else WAITING + "\n")
        while live and not done.wait(1.0):
            _write("\r%s %d s" % (WAITING, time.monotonic() - started))

    watcher = threading.Thread(target=notice, name="wattscope-waiting", daemon=True)
    watcher.start()
    ok = False
    try:
        answer = call()
        ok = True
        return answer
    finally:
        done.set()
        watcher.join()
        if shown.is_set():
            took = "done in %.1f s" % (time.monotonic() - started)
            if live:
                _write("\r%s %s\n" % (WAITING, took) if ok else "\n")
            elif ok:
                _write("wattscope: \u2026 %s\n" % took)


def run(model: str, *, dataset: Optional[str] = None, kind: RunKind = "inference", hosts: Optional[List[str]] = None,
        platform: Optional[str] = None, batch_size: Optional[int] = None, params_m: Optional[float] = None,
        macs_g: Optional[float] = None, labels: Optional[Dict[str, str]] = None, run_id: Optional[str] = None,
        gpus: Optional[List[str]] = None, score_energy: Optional[ScoreEnergy] = None) -> Run:
    """A run to use with ``with``: ``with wattscope.run(model="m") as r: ...; r.record(...)``.

    The options are the run's (see Run); a misspelt one is a TypeError, and mypy finds it first.
    """
    return Run(model, dataset=dataset, kind=kind, hosts=hosts, platform=platform, batch_size=batch_size,
               params_m=params_m, macs_g=macs_g, labels=labels, run_id=run_id, gpus=gpus, score_energy=score_energy)


def current() -> Run:
    """The innermost run of this thread, for record() from deep inside the code.

    Outside any run (another thread, or the function called without its decorator) it is a run
    that was never started: record() on it goes nowhere, and nothing raises.
    """
    stack = getattr(_local, "runs", [])
    return cast(Run, stack[-1]) if stack else Run("")


def measure(model: str, *, dataset: Optional[str] = None, kind: RunKind = "inference", hosts: Optional[List[str]] = None,
            platform: Optional[str] = None, batch_size: Optional[int] = None, params_m: Optional[float] = None,
            macs_g: Optional[float] = None, labels: Optional[Dict[str, str]] = None,
            gpus: Optional[List[str]] = None, score_energy: Optional[ScoreEnergy] = None) -> Callable[[F], F]:
    """Decorator: each call of the function is a run; call ``wattscope.current().record(...)`` inside."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with Run(model, dataset=dataset, kind=kind, hosts=hosts, platform=platform, batch_size=batch_size,
                     params_m=params_m, macs_g=macs_g, labels=labels, gpus=gpus, score_energy=score_energy):
                return fn(*args, **kwargs)

        return cast(F, inner)

    return wrap


# --- Windows: a span's energy from the collector on this host, at once ------------------------

MAX_ANSWER_BYTES = 1 << 20


class _Reading(NamedTuple):
    """One answer of the collector's GET /energy."""

    host: str
    time_ms: float
    uptime_s: float
    started_ms: float
    # source -> (joules since the collector first read it, in_total, domain)
    sources: Dict[str, Tuple[float, bool, str]]


class _Keep(threading.local):
    """Each thread's connection to the collector, kept open between edges (HTTP keep-alive): half
    the collector's work per edge, and no connection set up on the script's path."""

    conn: Optional[http.client.HTTPConnection] = None
    key: Tuple[str, int] = ("", 0)


_keep = _Keep()
# a connection the server closed while idle fails at once on reuse: then one fresh one is tried
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


def _get_energy(url: str, budget: float) -> Tuple[int, bytes]:
    """GET <url>/energy within `budget` seconds, from the connect to the last byte."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http:// URL")
    deadline = time.monotonic() + budget
    key = (url, os.getpid())  # a forked worker never shares its parent's socket
    for attempt in (0, 1):
        conn = _keep.conn if _keep.key == key else None
        reused = conn is not None
        if conn is None:
            conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = conn_class(parts.hostname, parts.port, timeout=max(0.001, deadline - time.monotonic()))
            _keep.conn, _keep.key = conn, key
        try:
            if conn.sock is not None:
                conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
            conn.request("GET", parts.path + "/energy", headers={"accept": "application/json"})
            if conn.sock is not None:
                conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
            res = conn.getresponse()
            body = res.read(MAX_ANSWER_BYTES + 1)
            if res.will_close or len(body) > MAX_ANSWER_BYTES:
                conn.close()
                _keep.conn = None
            return res.status, body
        except _STALE:
            conn.close()
            _keep.conn = None
            if not reused or attempt == 1 or time.monotonic() >= deadline:
                raise
        except BaseException:
            conn.close()
            _keep.conn = None
            raise
    raise OSError("no answer")  # not reached: the second attempt returns or raises


def _collector_reading() -> Optional[_Reading]:
    """The collector's energies now, or None (said once) when it cannot answer in time.

    One short request over loopback, bounded by WATTSCOPE_COLLECTOR_TIMEOUT (0.1 s) from the
    connect to the last byte; http.client, not urllib, whose proxy settings must not apply to
    this host's collector.
    """
    url = _collector_url().rstrip("/")
    budget = _seconds("WATTSCOPE_COLLECTOR_TIMEOUT", 0.1)
    hint = ("start it with `wattscope collect` (or `wattscope up`), or set WATTSCOPE_COLLECTOR_URL; "
            "window energy is None meanwhile")
    try:
        status, body = _get_energy(url, budget)
    except (OSError, http.client.HTTPException, ValueError) as err:
        reason = "no answer within %g s (WATTSCOPE_COLLECTOR_TIMEOUT)" % budget if isinstance(err, socket.timeout) else str(err) or type(err).__name__
        _say_once("cannot reach the collector at %s (%s): %s" % (url, reason, hint), key="collector-down")
        return None
    reading = _parse_reading(body) if status == 200 and len(body) <= MAX_ANSWER_BYTES else None
    if reading is None:
        _say_once("the collector at %s answered GET /energy with HTTP %d and no energy reading (an older collector, or "
                  "another service on that port): %s" % (url, status, hint), key="collector-answer")
    return reading


def _number(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _parse_reading(body: bytes) -> Optional[_Reading]:
    """The answer, checked: anything of another shape is no reading."""
    try:
        data = json.loads(body.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("host"), str) or not isinstance(data.get("sources"), list):
        return None
    times = [_number(data.get(k)) for k in ("time_ms", "uptime_s", "started_ms")]
    if any(t is None for t in times):
        return None
    sources: Dict[str, Tuple[float, bool, str]] = {}
    for s in data["sources"]:
        if not isinstance(s, dict):
            return None
        energy = _number(s.get("energy_j"))
        if not isinstance(s.get("source"), str) or energy is None or not isinstance(s.get("in_total"), bool):
            return None
        sources[s["source"]] = (energy, s["in_total"], str(s.get("domain", "")))
    return _Reading(data["host"], cast(float, times[0]), cast(float, times[1]), cast(float, times[2]), sources)


class Measurement:
    """The energy of a window: the collector's counters read at its two edges.

    ``energy_j``: the host's energy (its in-total sources: CPU packages, DRAM, GPUs…, never a
    domain nested in another); ``gpu_energy_j``: the in-total GPU sources' (None where the host
    has none); ``sources``: every source's joules (nested ones too, e.g. RAPL cores); times from
    the collector's clock: ``start_time``/``end_time`` in seconds since the epoch, ``duration_s``
    monotonic. Where the collector could not be read at an edge the energies are None and the
    times are this process's own (``measured`` is False).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.energy_j: Optional[float] = None
        self.gpu_energy_j: Optional[float] = None
        self.sources: Dict[str, float] = {}
        self.duration_s: Optional[float] = None
        self.start_time: Optional[float] = None
        self.end_time: Optional[float] = None
        self.host: Optional[str] = None
        #: the run this window is filed as (``record=True``), known at once; filed in the background
        self.run_id: Optional[str] = None

    @property
    def measured(self) -> bool:
        """Whether the energies were read from the collector at both edges."""
        return self.energy_j is not None

    @property
    def power_w(self) -> Optional[float]:
        """The host's average power over the window."""
        if self.energy_j is None or not self.duration_s:
            return None
        return self.energy_j / self.duration_s

    def __repr__(self) -> str:
        return "Measurement(name=%r, energy_j=%r, gpu_energy_j=%r, duration_s=%r)" % (
            self.name, self.energy_j, self.gpu_energy_j, self.duration_s)

    def _fill(self, begin: Optional[_Reading], end: Optional[_Reading], local: Tuple[float, float, float, float]) -> None:
        """From the two readings; `local`: this process's wall and monotonic clocks at both edges."""
        wall0, mono0, wall1, mono1 = local
        if begin is None or end is None or begin.started_ms != end.started_ms:
            if begin is not None and end is not None:
                _say_once("the collector restarted during window %r: its energy is unknown (None)" % self.name,
                          key="collector-restart:" + self.name)
            self.start_time, self.end_time, self.duration_s = wall0, wall1, mono1 - mono0
            either = end or begin
            self.host = either.host if either is not None else None
            return
        self.host = end.host
        self.start_time, self.end_time = begin.time_ms / 1000.0, end.time_ms / 1000.0
        self.duration_s = end.uptime_s - begin.uptime_s
        total = 0.0
        gpu: Optional[float] = None
        for source, (joules, in_total, domain) in end.sources.items():
            before = begin.sources.get(source)
            if before is None:
                continue  # found by the collector during the window: its energy before is unknown
            used = max(0.0, joules - before[0])
            self.sources[source] = used
            if in_total:
                total += used
                if domain == "gpu":
                    gpu = used + (gpu or 0.0)
        self.energy_j = total
        self.gpu_energy_j = gpu


class _Edge(NamedTuple):
    reading: Optional[_Reading]
    wall: float
    mono: float


def _edge() -> _Edge:
    return _Edge(_collector_reading(), time.time(), time.monotonic())


_RunOptions = Dict[str, Any]


class _Recorder:
    """Files windows as runs through the API, one at a time, off the script's path.

    A window becomes a run started at its first edge and stopped at its second (the API measures
    its energy from the stored points, with coverage and scores, as any run's). At exit the
    script waits for the runs still to file, at most WATTSCOPE_STOP_TIMEOUT, and says so when that
    takes more than a second.
    """

    def __init__(self) -> None:
        self._queue: "queue.Queue[Tuple[str, _RunOptions, Dict[str, Any]]]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def file(self, run_id: str, start: _RunOptions, stop: Dict[str, Any]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="wattscope-windows", daemon=True)
                self._thread.start()
                atexit.register(self._drain)
        self._queue.put((run_id, start, stop))

    def _work(self) -> None:
        while True:
            run_id, start, stop = self._queue.get()
            try:
                _request("POST", "/api/runs", start)
                _request("POST", "/api/runs/%s/stop" % run_id, stop, _seconds("WATTSCOPE_STOP_TIMEOUT", 60.0),
                         "WATTSCOPE_STOP_TIMEOUT")
            except Exception as err:  # noqa: BLE001 - filing a window never breaks the script
                _say_once("%s; window run %s is not filed" % (_explain(err), run_id), key="window-file")
            finally:
                self._queue.task_done()

    def _drain(self) -> None:
        started = time.monotonic()
        limit = _seconds("WATTSCOPE_STOP_TIMEOUT", 60.0)
        told = False
        while self._queue.unfinished_tasks > 0 and time.monotonic() - started < limit:
            if not told and time.monotonic() - started > WAIT_NOTICE_SECONDS:
                _write("wattscope: filing %d window(s) as runs\u2026\n" % self._queue.unfinished_tasks)
                told = True
            time.sleep(0.02)
        if self._queue.unfinished_tasks > 0:
            _write("wattscope: %d window(s) not filed as runs within %g s (WATTSCOPE_STOP_TIMEOUT)\n"
                   % (self._queue.unfinished_tasks, limit))


_recorder = _Recorder()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Open(NamedTuple):
    edge: _Edge
    record: Optional[_RunOptions]


_windows: Dict[str, _Open] = {}
_windows_lock = threading.Lock()


def _run_options(name: str, model: Optional[str], kind: RunKind, dataset: Optional[str], batch_size: Optional[int],
                 params_m: Optional[float], macs_g: Optional[float], labels: Optional[Dict[str, str]]) -> _RunOptions:
    options: _RunOptions = {"model": model or name, "kind": kind, "labels": dict(labels or {}, window=name)}
    for key, value in (("dataset", dataset), ("batch_size", batch_size), ("params_m", params_m), ("macs_g", macs_g)):
        if value is not None:
            options[key] = value
    return options


def _finish(name: str, opened: _Open, result: Dict[str, Any], failed: bool) -> Measurement:
    end = _edge()
    m = Measurement(name)
    begin = opened.edge
    m._fill(begin.reading, end.reading, (begin.wall, begin.mono, end.wall, end.mono))
    if opened.record is not None:
        m.run_id = "w-" + uuid.uuid4().hex[:20]
        start = dict(opened.record)
        start["run_id"] = m.run_id
        start["hosts"] = [m.host or os.environ.get("WATTSCOPE_HOST") or socket.gethostname()]
        start["started_at"] = _iso(cast(float, m.start_time))
        stop = {k: v for k, v in result.items() if v is not None}
        stop["status"] = "failed" if failed else "completed"
        stop["ended_at"] = _iso(cast(float, m.end_time))
        _recorder.file(m.run_id, start, stop)
    return m


def begin_window(name: str, *, record: bool = False, model: Optional[str] = None, kind: RunKind = "inference",
                 dataset: Optional[str] = None, batch_size: Optional[int] = None, params_m: Optional[float] = None,
                 macs_g: Optional[float] = None, labels: Optional[Dict[str, str]] = None) -> None:
    """Opens the window `name`: the collector's energies now. Returns within WATTSCOPE_COLLECTOR_TIMEOUT.

    Windows nest and overlap by name; a name already open raises ValueError. ``record=True`` files
    the window as a run when it ends (`model` defaults to the window's name; the other options are
    the run's, as for ``run()``).
    """
    edge = _edge()
    options = _run_options(name, model, kind, dataset, batch_size, params_m, macs_g, labels) if record else None
    with _windows_lock:
        if name in _windows:
            raise ValueError("wattscope: window %r is already open; end it first, or give this one another name" % name)
        _windows[name] = _Open(edge, options)


def end_window(name: str, *, inferences: Optional[int] = None, correct: Optional[int] = None,
               accuracy: Optional[float] = None, failed: bool = False) -> Measurement:
    """Closes the window `name` and returns its Measurement. Returns within WATTSCOPE_COLLECTOR_TIMEOUT.

    A name that is not open raises ValueError (naming the open ones). The results are the run's,
    for a window begun with ``record=True``.
    """
    with _windows_lock:
        opened = _windows.pop(name, None)
        names = sorted(_windows)
    if opened is None:
        raise ValueError("wattscope: no window %r is open (open: %s); begin_window(%r) first"
                         % (name, ", ".join(repr(n) for n in names) or "none", name))
    return _finish(name, opened, {"inferences": inferences, "correct": correct, "accuracy": accuracy}, failed)


class window:
    """A window as a context manager or a decorator.

        with wattscope.window("eval") as w:
            evaluate()
        print(w.energy_j)

        @wattscope.window("step", on_end=steps.append)
        def step() -> None: ...

    As a context manager it yields the Measurement, filled when the block ends (an exception in
    the block files a recorded window as failed, and goes on as it was). As a decorator every call
    is a window, handed to `on_end` when it ends. Independent of begin_window's names: the same
    name may be open many times at once (recursion, threads).
    """

    def __init__(self, name: str, *, record: bool = False, on_end: Optional[Callable[[Measurement], None]] = None,
                 model: Optional[str] = None, kind: RunKind = "inference", dataset: Optional[str] = None,
                 batch_size: Optional[int] = None, params_m: Optional[float] = None, macs_g: Optional[float] = None,
                 labels: Optional[Dict[str, str]] = None) -> None:
        self.name = name
        self._on_end = on_end
        self._record = _run_options(name, model, kind, dataset, batch_size, params_m, macs_g, labels) if record else None
        self._local = threading.local()

    def __enter__(self) -> Measurement:
        m = Measurement(self.name)
        stack: List[Tuple[_Open, Measurement]] = getattr(self._local, "stack", [])
        stack.append((_Open(_edge(), self._record), m))
        self._local.stack = stack
        return m

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        opened, m = cast(List[Tuple[_Open, Measurement]], self._local.stack).pop()
        done = _finish(self.name, opened, {}, exc_type is not None)
        m.__dict__.update(done.__dict__)
        if self._on_end is not None:
            self._on_end(m)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return cast(F, inner)
