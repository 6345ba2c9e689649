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
stop, which waits for the collectors' last points; default 60).
"""

import functools
import json
import math
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple, TypeVar, cast

__all__ = ["run", "measure", "current", "Run", "Summary", "HEARTBEAT_SECONDS"]
__version__ = "0.1.0"

HEARTBEAT_SECONDS = 60.0
# The stop answers once the collectors' last points are in; say why the script waits past this.
WAIT_NOTICE_SECONDS = 1.0
WAITING = "wattscope: waiting for the collectors' last points\u2026"

_said: Set[str] = set()
_local = threading.local()
F = TypeVar("F", bound=Callable[..., Any])


def _write(text: str) -> None:
    """Writes to stderr; a closed or missing stderr (pythonw, daemons) must not break the script."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - nowhere left to report it
        pass


def _say_once(message: str) -> None:
    # A script that starts a run per batch with the API down gets one line, not thousands.
    if message not in _said:
        _said.add(message)
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


class Summary(Dict[str, Any]):
    """The API's summary of a run (energy per source, gross and net energy, every score).

    Any key it does not hold reads as None instead of raising, so ``r.summary["energy_wh"]`` is
    safe on a run that could not be measured (API down, stop failed); ``measured`` tells them apart.
    """

    def __init__(self, data: Optional[Dict[str, Any]] = None, measured: bool = False) -> None:
        super().__init__(data or {})
        self.measured = measured

    def __missing__(self, key: str) -> None:
        return None


class Run:
    """A measured run. Use it as a context manager; call record() with what the run achieved."""

    def __init__(self, model: str, dataset: Optional[str] = None, kind: str = "inference", hosts: Optional[List[str]] = None,
                 platform: Optional[str] = None, batch_size: Optional[int] = None, params_m: Optional[float] = None,
                 macs_g: Optional[float] = None, labels: Optional[Dict[str, str]] = None, run_id: Optional[str] = None,
                 gpus: Optional[List[str]] = None, score_energy: Optional[str] = None) -> None:
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
        self.summary = Summary()
        self._attached = False
        self._followed = False
        self._stop_heartbeat = threading.Event()

    @property
    def measured(self) -> bool:
        """Whether ``summary`` holds the API's figures for this run."""
        return self.summary.measured

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
            self.summary = Summary(answer, measured=True)
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


def run(model: str, **options: Any) -> Run:
    """A run to use with ``with``: ``with wattscope.run(model="m") as r: ...; r.record(...)``."""
    return Run(model, **options)


def current() -> Run:
    """The innermost run of this thread, for record() from deep inside the code.

    Outside any run (another thread, or the function called without its decorator) it is a run
    that was never started: record() on it goes nowhere, and nothing raises.
    """
    stack = getattr(_local, "runs", [])
    return cast(Run, stack[-1]) if stack else Run("")


def measure(model: str, **options: Any) -> Callable[[F], F]:
    """Decorator: each call of the function is a run; call ``wattscope.current().record(...)`` inside."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with Run(model, **options):
                return fn(*args, **kwargs)

        return cast(F, inner)

    return wrap
