"""Timing and memory primitives shared by the analysis and benchmark tools.

Units: times in seconds, memory in bytes.

* :func:`time_callable` - warm-up, then the median (and min, max, mean) of repeated calls.
* :func:`peak_memory` - extra memory one call needs at its peak: CUDA
  ``max_memory_allocated`` above what was allocated before; CPU peak RSS above the RSS before.
* :func:`available_memory` - what a next call may still use (CUDA free memory, CPU
  ``MemAvailable``), to skip a point that would not fit.
* :func:`environment_info` - device name, versions, threads and date, for CSV headers.
* :func:`fixed_threads` - a context that pins ``torch.set_num_threads``.

CPU peak RSS (Linux): writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's RSS
high-water mark (``VmHWM``) to the current RSS, so the peak of one call is exact and costs
nothing. Where that is not allowed, a thread samples ``/proc/self/statm`` every 0.5 ms (can
miss a spike shorter than that). Before the baseline is read, free heap memory is handed back
to the OS (glibc ``malloc_trim``), so memory kept by the allocator from an earlier, larger
call does not hide this call's growth.
"""
import contextlib
import ctypes
import ctypes.util
import datetime
import gc
import os
import platform
import statistics
import threading
import time
from importlib import metadata
from typing import Callable, Dict, Iterator, Optional

import torch

from mmsola.errors import ArgumentError
from mmsola.utils.devices import DeviceLike, check_device

_PAGE_SIZE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096


def synchronizer(device: DeviceLike) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (``torch.cuda.synchronize``);
    a no-op for the CPU."""
    device = check_device(device)
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_callable(fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5,
                  sync: Optional[Callable[[], None]] = None,
                  max_total_s: Optional[float] = None) -> Dict[str, object]:
    """Time ``fn()``: ``warmup`` untimed calls, then up to ``repeats`` timed calls.

    Args:
        fn: called with no arguments; its result is discarded.
        warmup: untimed calls first (>= 0).
        repeats: timed calls (>= 1).
        sync: called before starting and before stopping each clock, e.g.
            ``synchronizer('cuda')``, so asynchronous devices are timed correctly.
        max_total_s: stop the timed calls early once warm-up plus timed calls have taken this
            long (at least one timed call always runs).

    Returns:
        dict with ``median_s``, ``min_s``, ``max_s``, ``mean_s`` (wall seconds per call),
        ``times_s`` (list of each timed call), ``cpu_median_s`` (median process CPU seconds
        per call, all threads together: on a machine shared with other work, wall time grows
        but this stays near ``threads x`` the quiet wall time), ``repeats`` (timed calls done)
        and ``warmup``.
    """
    if warmup < 0 or repeats < 1:
        raise ArgumentError(f'need warmup >= 0 and repeats >= 1, got warmup={warmup}, '
                         f'repeats={repeats}')
    sync = sync or (lambda: None)
    spent = 0.
    for _ in range(warmup):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        spent += time.perf_counter() - start
    times, cpu_times = [], []
    for _ in range(repeats):
        sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        sync()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        spent += times[-1]
        if max_total_s is not None and spent >= max_total_s:
            break
    return dict(median_s=statistics.median(times), min_s=min(times), max_s=max(times),
                mean_s=statistics.fmean(times), times_s=times,
                cpu_median_s=statistics.median(cpu_times), repeats=len(times), warmup=warmup)


# ------------------------------------------------------------------------------- memory
def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * _PAGE_SIZE


def _hwm_bytes() -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise OSError('VmHWM missing from /proc/self/status')


def _reset_hwm() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        _hwm_bytes()
        return True
    except OSError:
        return False


_libc = None


def _trim_heap() -> None:
    """Return free heap memory to the OS (glibc only; elsewhere a no-op)."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library('c')
        try:
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
    if _libc and hasattr(_libc, 'malloc_trim'):
        _libc.malloc_trim(0)


def cpu_peak_method() -> str:
    """How :func:`peak_memory` measures CPU memory here: ``'vmhwm'`` (exact kernel
    high-water mark), ``'sampling'`` (0.5 ms polling of the RSS) or ``'unavailable'``
    (no ``/proc``)."""
    if not os.path.exists('/proc/self/statm'):
        return 'unavailable'
    return 'vmhwm' if _reset_hwm() else 'sampling'


class _RssSampler(threading.Thread):

    def __init__(self, interval_s: float = 5e-4):
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak = _rss_bytes()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval_s)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, _rss_bytes())


def peak_memory(fn: Callable[[], object], device: DeviceLike) -> int:
    """Bytes that one call of ``fn()`` needs at its peak, above what was in use before.

    CUDA: ``torch.cuda.max_memory_allocated`` during the call minus ``memory_allocated``
    before it (tensor memory; the caching allocator's reserve is not counted). CPU: peak
    resident set size during the call minus the RSS before it (see the module docstring);
    raises RuntimeError on a system without ``/proc``.
    """
    device = check_device(device)
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - base)
    method = cpu_peak_method()
    if method == 'unavailable':
        raise RuntimeError('CPU peak memory needs /proc (Linux); not available here')
    _trim_heap()
    base = _rss_bytes()
    if method == 'vmhwm' and _reset_hwm():
        fn()
        return max(0, _hwm_bytes() - base)
    sampler = _RssSampler()
    sampler.start()
    try:
        fn()
    finally:
        peak = sampler.stop()
    return max(0, peak - base)


def available_memory(device: DeviceLike) -> Optional[int]:
    """Bytes a next call may still allocate: CUDA free memory (``mem_get_info``) plus what
    PyTorch's cache holds unused; CPU ``MemAvailable`` of ``/proc/meminfo``. None if unknown."""
    device = check_device(device)
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return free + cached
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -------------------------------------------------------------------------- environment
def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return 'not installed'


def _cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info(device: DeviceLike) -> Dict[str, object]:
    """What a measurement ran on, as flat str/int values (for CSV columns).

    Keys: ``device`` ('cpu', 'cuda:0'), ``device_name``, ``cpu_name``, ``cpu_count``
    (usable cores), ``torch_threads``, ``torch``, ``triton``, ``mmengine``, ``mmsola``,
    ``python``, ``cuda`` / ``cudnn`` (versions torch was built with; '' on CPU builds),
    ``cpu_memory_method`` (see :func:`cpu_peak_method`), ``date_utc`` (ISO 8601, seconds).
    """
    device = check_device(device)
    if device.type == 'cuda':
        index = device.index if device.index is not None else torch.cuda.current_device()
        device = torch.device('cuda', index)
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = _cpu_name()
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
             else os.cpu_count())
    return dict(
        device=str(device), device_name=device_name, cpu_name=_cpu_name(), cpu_count=cores,
        torch_threads=torch.get_num_threads(), torch=torch.__version__,
        triton=_version('triton'), mmengine=_version('mmengine'), mmsola=_version('mmsola'),
        python=platform.python_version(), cuda=torch.version.cuda or '',
        cudnn=str(torch.backends.cudnn.version() or '') if torch.cuda.is_available() else '',
        cpu_memory_method=cpu_peak_method(),
        date_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'))


@contextlib.contextmanager
def fixed_threads(num_threads: Optional[int]) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)``, restored afterwards;
    ``None`` leaves the setting alone."""
    if num_threads is None:
        yield
        return
    if not isinstance(num_threads, int) or num_threads < 1:
        raise ArgumentError(f'the number of threads must be a positive int, got {num_threads!r}')
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
