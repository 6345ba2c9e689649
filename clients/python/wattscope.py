"""Wattscope for Python training and inference scripts: one file, standard library only, Python 3.8+.

    import wattscope

    with wattscope.run(model="resnet50", dataset="imagenet-val") as r:
        correct = evaluate(model, loader)
        r.record(inferences=len(loader.dataset), correct=correct)
    print(r.summary["energy_wh"], r.summary["composite_score"])

    @wattscope.measure(model="resnet50", params_m=25.6, macs_g=4.1)
    def evaluate():
        ...
        wattscope.current().record(inferences=n, accuracy=acc)

Measuring never breaks your script: when the API cannot be reached, a warning is printed once
and the script runs on, unmeasured. Under ``wattscope run`` (WATTSCOPE_RUN_ID set) the block
attaches to that run and only records results into it.

Configuration: WATTSCOPE_API_URL (default http://127.0.0.1:8080), WATTSCOPE_API_TOKEN,
WATTSCOPE_HOST (default this machine's hostname, as the collector tags it).
"""

import functools
import json
import os
import socket
import sys
import threading
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Optional

__all__ = ["run", "measure", "current", "Run", "HEARTBEAT_SECONDS"]
__version__ = "0.1.0"

HEARTBEAT_SECONDS = 60.0
_warned = False
_local = threading.local()


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        sys.stderr.write("wattscope: %s; the script goes on unmeasured\n" % message)


def _api_url() -> str:
    return os.environ.get("WATTSCOPE_API_URL", "http://127.0.0.1:8080").rstrip("/")


def _request(method: str, path: str, body: Optional[Dict[str, Any]] = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(_api_url() + path, data=data, method=method)
    req.add_header("accept", "application/json")
    if data is not None:
        req.add_header("content-type", "application/json")
    token = os.environ.get("WATTSCOPE_API_TOKEN")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as res:
        text = res.read().decode("utf-8")
        return json.loads(text) if text else None


def _describe(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        try:
            detail = json.loads(err.read().decode("utf-8")).get("message", "")
        except Exception:  # noqa: BLE001 - any body is fine for a message
            detail = ""
        if err.code == 401:
            return "the API at %s wants a token: set WATTSCOPE_API_TOKEN" % _api_url()
        return "the API answered %d %s" % (err.code, detail)
    if isinstance(err, urllib.error.URLError):
        return "cannot reach the Wattscope API at %s (%s): start it with `wattscope up`, or set WATTSCOPE_API_URL" % (_api_url(), err.reason)
    return "%s: %s" % (type(err).__name__, err)


class Run:
    """A measured run. Use it as a context manager; call record() with what the run achieved."""

    def __init__(self, model: str, dataset: Optional[str] = None, kind: str = "inference", hosts: Optional[List[str]] = None,
                 platform: Optional[str] = None, batch_size: Optional[int] = None, params_m: Optional[float] = None,
                 macs_g: Optional[float] = None, labels: Optional[Dict[str, str]] = None, run_id: Optional[str] = None) -> None:
        self.model = model
        self._start: Dict[str, Any] = {"model": model, "kind": kind,
                                       "hosts": hosts or [os.environ.get("WATTSCOPE_HOST") or socket.gethostname()]}
        for key, value in (("dataset", dataset), ("platform", platform), ("batch_size", batch_size), ("params_m", params_m),
                           ("macs_g", macs_g), ("labels", labels), ("run_id", run_id)):
            if value is not None:
                self._start[key] = value
        self._result: Dict[str, Any] = {}
        self.run_id: Optional[str] = None
        self.summary: Optional[Dict[str, Any]] = None
        self._attached = False
        self._stop_heartbeat = threading.Event()
        self._thread: Optional[threading.Thread] = None

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
                self.run_id = _request("POST", "/api/runs", self._start)["run_id"]
                self._thread = threading.Thread(target=self._heartbeat, name="wattscope-heartbeat", daemon=True)
                self._thread.start()
        except Exception as err:  # noqa: BLE001 - measuring never breaks the script
            _warn_once(_describe(err))
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

    def stop(self, failed: bool = False) -> Optional[Dict[str, Any]]:
        stack = getattr(_local, "runs", [])
        if self in stack:
            stack.remove(self)
        self._stop_heartbeat.set()
        if self.run_id is None:
            return None
        try:
            if self._attached:
                if self._result:
                    self.summary = _request("PATCH", "/api/runs/%s" % self.run_id, self._result)
            else:
                body = dict(self._result)
                body["status"] = "failed" if failed else "completed"
                self.summary = _request("POST", "/api/runs/%s/stop" % self.run_id, body, timeout=60.0)
        except Exception as err:  # noqa: BLE001
            _warn_once(_describe(err))
        return self.summary

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.stop(failed=exc_type is not None)
        return False  # the script's own exceptions go on as they were


def run(model: str, **options: Any) -> Run:
    """A run to use with ``with``: ``with wattscope.run(model="m") as r: ...; r.record(...)``."""
    return Run(model, **options)


def current() -> Optional[Run]:
    """The innermost run of this thread, for record() from deep inside the code."""
    stack = getattr(_local, "runs", [])
    return stack[-1] if stack else None


def measure(model: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: each call of the function is a run; call ``wattscope.current().record(...)`` inside."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with Run(model, **options):
                return fn(*args, **kwargs)

        return inner

    return wrap
