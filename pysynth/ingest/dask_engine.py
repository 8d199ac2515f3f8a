"""The Dask engine: the sources of a large trail read, selected and normalised on a Dask cluster
(dask.distributed), which sends back only what the selection holds and the account of the rest.

Without a scheduler address, a local cluster of one single-threaded worker process per core is
started for the command and stopped after it. A remote cluster's workers need pysynth installed
and must reach the sources themselves (S3, or paths on a shared file system). Results are those of
the local engine: the same tasks, put back in source order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from pysynth.ingest.classify import Classifier, Part, Selection
from pysynth.ingest.engines import LocalEngine, SourcesTask, batch, usable_cores
from pysynth.ingest.events import EventBuilder
from pysynth.ingest.readers import STDIN, InputError, Source

CONNECT_SECONDS = 10
TASKS_PER_WORKER = 4  # tasks in flight per worker: enough to keep it busy, few enough to bound memory
INSTALL_HINT = "--engine dask needs Dask's distributed scheduler: pip install 'pysynth[dask]'"


class DaskEngine:
    """A context manager: entering connects to the scheduler (or starts a local cluster)."""

    def __init__(self, scheduler: str | None = None):
        self.scheduler = scheduler
        self.client = None
        self.cluster = None

    def __enter__(self) -> DaskEngine:
        try:
            import distributed
        except ImportError:
            raise InputError(INSTALL_HINT) from None
        if self.scheduler:
            try:
                self.client = distributed.Client(self.scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as error:
                raise InputError(f"no Dask scheduler answers at {self.scheduler} ({_one_line(error)})") from None
        else:
            self.cluster = distributed.LocalCluster(
                n_workers=usable_cores(), threads_per_worker=1, processes=True, dashboard_address=None,
            )
            self.client = distributed.Client(self.cluster, set_as_default=False)
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def parts(self, sources: list[Source], classifier: Classifier, drain: Callable[[Part], None]) -> Iterator[Part]:
        """Parts in source order; standard input, which no worker can read, is read here."""
        here = LocalEngine(cores=1)
        run: list[Source] = []
        for source in sources:
            if source.name == STDIN:
                yield from self._on_cluster(run, classifier)
                run = []
                yield from here.parts([source], classifier, drain)
            else:
                run.append(source)
        yield from self._on_cluster(run, classifier)

    def _on_cluster(self, sources: list[Source], classifier: Classifier) -> Iterator[Part]:
        if not sources:
            return
        tasks = batch(sources)
        settings = (classifier.selection, classifier.evidence, classifier.left_out_as, classifier.outside)
        workers = max(len(self.client.scheduler_info().get("workers", {})), 1)
        window = TASKS_PER_WORKER * workers
        pending: deque = deque()
        submitted = 0
        while submitted < len(tasks) or pending:
            while submitted < len(tasks) and len(pending) < window:
                pending.append(self.client.submit(run_task, tasks[submitted], settings, pure=False))
                submitted += 1
            future = pending.popleft()
            try:
                yield future.result()
            except Exception as error:  # noqa: BLE001 - a worker lost or a task that failed
                raise InputError(f"the Dask cluster failed on a task: {_one_line(error)}") from None


_builder: EventBuilder | None = None


def run_task(task: SourcesTask, settings: tuple[Selection, bool, str | None, bool]) -> Part:
    """Run on a worker: one builder per worker process, so models are loaded once."""
    global _builder
    if _builder is None:
        _builder = EventBuilder()
    return task.run(Classifier(_builder, *settings))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
