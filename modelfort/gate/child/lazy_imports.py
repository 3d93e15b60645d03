"""Makes lazily imported modules safe to read from several threads in the gate's child process.

Pulumi's generated SDKs (pulumi_kubernetes, pulumi_aws, ...) import their submodules lazily, through a private copy
of the stdlib's lazy loader in `pulumi._utils` (and, in older SDKs, through the stdlib's own). Both mark a module
loaded *before* running its body, so a second thread that reads it meanwhile sees a half-built module:
`module 'pulumi_kubernetes.meta.v1' has no attribute 'ObjectMetaArgs'`. (CPython fixed its own copy in 3.12.3,
gh-114763; Pulumi's copy predates the fix on purpose, to avoid a regression it brought.)

Under the real engine a program reads its SDKs from one thread. Under the gate it does not: the SDK calls the mock
monitor from executor threads, and the mocks read the SDKs' type information there (`sdk_types`) while the main
thread serialises inputs with the same modules. The race made about one run in twenty of a Kubernetes program fail
with exit 3, an error of the gate and not of the program. `install()` closes it, for the child process only.

Each lazy module gets its own re-entrant lock. The first thread to read it runs the body while holding the lock and
only then marks the module loaded; other threads wait on the lock, then read the finished module. A read from the
loading thread itself (the module's own body, or an import it triggers) is answered from what exists so far, as an
eager import would.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types

_REGISTRY_LOCK = threading.Lock()
"""Guards only the creation of each module's own lock."""

_LOCK_KEY = "modelfort_gate_lock"
_LOADING_KEY = "modelfort_gate_loading"


def stdlib_is_thread_safe() -> bool:
    """Whether this interpreter's lazy modules already lock (they keep a lock in their loader state)."""

    class _EmptyLoader(importlib.abc.Loader):
        def create_module(self, spec):
            return None

        def exec_module(self, module):
            return None

    spec = importlib.machinery.ModuleSpec("_modelfort_gate_lazy_probe", importlib.util.LazyLoader(_EmptyLoader()))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return "lock" in object.__getattribute__(module, "__spec__").loader_state


def _module_lock(state: dict) -> threading.RLock:
    with _REGISTRY_LOCK:
        lock = state.get(_LOCK_KEY)
        if lock is None:
            lock = state[_LOCK_KEY] = threading.RLock()
            state[_LOADING_KEY] = False
        return lock


def _load(module: types.ModuleType, spec: importlib.machinery.ModuleSpec) -> None:
    """Runs the module's body into it, keeping what was set on it before the first read (as the stdlib does)."""
    state = spec.loader_state
    before = state["__dict__"]
    # Attributes assigned while the module was still lazy (a submodule import sets its parent's attribute) win over
    # what the body defines, as they would have after an eager import.
    assigned = {key: value for key, value in module.__dict__.items()
                if key not in before or before[key] is not value}
    spec.loader.exec_module(module)
    registered = sys.modules.get(spec.name)
    if registered is not None and registered is not module:
        raise ValueError(f"module object for {spec.name!r} substituted in sys.modules during a lazy load")
    module.__dict__.update(assigned)


def _thread_safe_getattribute(lazy_class: type, introspection: frozenset[str]):
    """A `__getattribute__` for `lazy_class` that loads the module once, under the module's lock."""

    def __getattribute__(self, attr):  # noqa: N807 (it replaces the dunder)
        if attr in introspection or object.__getattribute__(self, "__class__") is not lazy_class:
            return object.__getattribute__(self, attr)
        spec = object.__getattribute__(self, "__spec__")
        state = spec.loader_state
        with _module_lock(state):
            if object.__getattribute__(self, "__class__") is lazy_class:
                if state[_LOADING_KEY]:
                    # The loading thread reading its own module: what exists so far, as during an eager import.
                    return object.__getattribute__(self, attr)
                state[_LOADING_KEY] = True
                try:
                    _load(self, spec)
                finally:
                    state[_LOADING_KEY] = False
                    # A body may give its module a class of its own (generated SDKs' `config` modules do): keep it.
                    # Marked loaded even if the body failed, as the stdlib does: a failed import is not retried.
                    if object.__getattribute__(self, "__class__") is lazy_class:
                        self.__class__ = types.ModuleType
        return getattr(self, attr)

    return __getattribute__


def install() -> list[str]:
    """Makes lazy modules thread-safe in this process; returns which lazy-module classes it patched.

    Pulumi keeps a private copy of the stdlib's lazy loader (`pulumi._utils`, to avoid a regression of 3.12.3), which
    has the race on every interpreter, so it is always patched; the stdlib's only where it does not lock itself.
    """
    patched = []
    try:
        from pulumi import _utils as pulumi_utils
    except ImportError:  # an SDK without its own copy
        pulumi_utils = None
    pulumi_lazy = getattr(pulumi_utils, "_LazyModule", None)
    if isinstance(pulumi_lazy, type):
        introspection = frozenset(getattr(pulumi_utils, "_INTROSPECTION_ATTRS", ()))
        pulumi_lazy.__getattribute__ = _thread_safe_getattribute(pulumi_lazy, introspection)
        patched.append("pulumi._utils._LazyModule")
    if not stdlib_is_thread_safe():
        stdlib_lazy = importlib.util._LazyModule
        stdlib_lazy.__getattribute__ = _thread_safe_getattribute(stdlib_lazy, frozenset())
        patched.append("importlib.util._LazyModule")
    return patched
