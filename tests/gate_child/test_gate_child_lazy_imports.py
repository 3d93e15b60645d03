"""A lazily imported SDK module read from two threads at once is never seen half-built inside the gate's child.

The mocks read SDK type information from executor threads while the program's thread serialises inputs with the
same modules; before this was fixed, one gate run in twenty of a Kubernetes program failed with exit 3. Each
scenario runs in a fresh interpreter: the patch is process-wide, and the unpatched run must show the race is real.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A package whose lazily imported submodule blocks half-way through its body until the second thread has read it
# (or `wait` seconds have passed). Unpatched, the second thread reads it meanwhile; patched, it waits for the body.
SLOW_MODULE = """
import threading
import scenario_events as events

events.body_started.set()
events.reader_done.wait(timeout=events.WAIT)
LATE = "defined at the end of the body"
"""

SCENARIO = """
import json, sys, threading, types
sys.path.insert(0, sys.argv[1])
import scenario_events as events
events.WAIT = float(sys.argv[3])
if sys.argv[2] == "patched":
    from modelfort.gate.child import lazy_imports
    patched = lazy_imports.install()
else:
    patched = []
from pulumi import _utils
slow = _utils.lazy_import("slowpkg.slow")
seen = {}

def reader():
    events.body_started.wait(timeout=60)
    try:
        seen["reader"] = slow.LATE
    except AttributeError as exc:
        seen["reader"] = "AttributeError: " + str(exc)
    events.reader_done.set()

thread = threading.Thread(target=reader)
thread.start()
seen["loader"] = slow.LATE
thread.join(timeout=60)
print(json.dumps({"patched": patched, "seen": seen, "class": type(slow).__name__}))
"""


@pytest.fixture()
def packages(tmp_path):
    (tmp_path / "scenario_events.py").write_text("import threading\nbody_started = threading.Event()\n"
                                                 "reader_done = threading.Event()\nWAIT = 0.0\n")
    (tmp_path / "slowpkg").mkdir()
    (tmp_path / "slowpkg" / "__init__.py").write_text("")
    (tmp_path / "slowpkg" / "slow.py").write_text(textwrap.dedent(SLOW_MODULE))
    return tmp_path


def run_scenario(packages: Path, mode: str, wait: float) -> dict:
    completed = subprocess.run([sys.executable, "-c", SCENARIO, str(packages), mode, str(wait)], cwd=REPO,
                               capture_output=True, text=True, timeout=120, check=True)
    return json.loads(completed.stdout)


def test_unpatched_a_second_reader_sees_the_module_half_built(packages):
    # Proves the scenario reproduces the race: the body waits up to 30 s for the reader, which fails at once.
    outcome = run_scenario(packages, "unpatched", wait=30)
    assert outcome["seen"]["reader"].startswith("AttributeError"), outcome


def test_patched_a_second_reader_waits_for_the_body_and_sees_the_whole_module(packages):
    # The body gives up waiting after 0.5 s because the reader is blocked on the module's lock, as it must be.
    outcome = run_scenario(packages, "patched", wait=0.5)
    assert "pulumi._utils._LazyModule" in outcome["patched"]
    assert outcome["seen"] == {"loader": "defined at the end of the body", "reader": "defined at the end of the body"}
    assert outcome["class"] == "module"


def test_a_module_that_gives_itself_a_class_keeps_it_and_reads_itself_while_loading(tmp_path):
    # Generated SDKs' `config` modules replace their own class in their body; the loader must not undo that.
    (tmp_path / "selfpkg").mkdir()
    (tmp_path / "selfpkg" / "__init__.py").write_text("")
    (tmp_path / "selfpkg" / "config.py").write_text(textwrap.dedent("""
        import sys, types
        FIRST = 1
        SECOND = sys.modules[__name__].FIRST + 1   # a read of itself while it loads

        class _Exportable(types.ModuleType):
            @property
            def region(self):
                return "from the custom class"

        sys.modules[__name__].__class__ = _Exportable
    """))
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from modelfort.gate.child import lazy_imports
        lazy_imports.install()
        from pulumi import _utils
        config = _utils.lazy_import("selfpkg.config")
        print(json.dumps([config.region, config.SECOND, type(config).__name__]))
    """)
    completed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                               timeout=120, check=True)
    assert json.loads(completed.stdout) == ["from the custom class", 2, "_Exportable"]


def test_the_stdlib_lazy_loader_is_patched_exactly_where_it_does_not_lock_itself():
    from modelfort.gate.child import lazy_imports

    assert lazy_imports.stdlib_is_thread_safe() is (sys.version_info >= (3, 12, 3))
