"""The local inference engine: loads GGUF models into worker processes on first use, queues requests per
model (one generation at a time), streams tokens, and unloads models that sit idle or are in the way.

Memory and the clock are injected (tests give a small budget, or drive keep-alive by hand through
:meth:`LocalEngine.reap_idle`). Everything the engine holds lives on the instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from edgeroute import errors
from edgeroute.chat import (
    ChatRequest,
    CompletionRequest,
    Finish,
    Message,
    StreamEvent,
    TextDelta,
    TokenStats,
    Usage,
)
from edgeroute.config import Settings
from edgeroute.engine.handle import WorkerDied, WorkerHandle, WorkerLoadFailed, describe_exit
from edgeroute.engine.memory import MemoryProbe, SystemMemory
from edgeroute.engine.protocol import Finished, GenerateJob, WorkerSpec
from edgeroute.engine.registry import LocalModel, ModelRegistry
from edgeroute.engine.response_format import json_schema_text
from edgeroute.engine.sampling import logit_bias_of, sampling_options
from edgeroute.engine.state import EngineState, model_key
from edgeroute.engine.tool_calls import extract_tool_calls
from edgeroute.engine.types import EmbedResult, EngineStatus, ModelStatus
from edgeroute.paths import Paths

log = logging.getLogger("edgeroute.engine")

DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.95
TOKENIZER_MIN_KEEP_ALIVE = 60.0
REAP_MAX_INTERVAL = 1.0  # how late an idle model may be unloaded, at most


@dataclass(eq=False)
class _Slot:
    """One model's runtime state: its worker, its FIFO generation slot and its counters."""

    name: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    load_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    handle: WorkerHandle | None = None
    estimate: int = 0
    mapped: int = 0
    tokenizer: WorkerHandle | None = None
    tokenizer_used: float = 0.0
    last_used: float = 0.0
    requests_served: int = 0
    last_tokens_per_s: float | None = None
    avg_seconds: float = 2.0

    @property
    def loaded(self) -> bool:
        return self.handle is not None and self.handle.alive

    @property
    def busy(self) -> bool:
        return self.lock.locked() or self.waiting > 0 or self.load_lock.locked()


def _message_dict(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.text()}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    if message.name:
        out["name"] = message.name
    return out


def _worker_error(code: str, message: str, name: str) -> errors.EdgerouteError:
    text = f"local/{name}: {message}"
    if code == "context_length_exceeded":
        return errors.ContextLengthExceeded(text)
    if code == "fim_not_supported":
        return errors.UnsupportedByModel(text, code=code)
    if code == "invalid_request":
        return errors.InvalidRequest(text)
    if code == "invalid_response_format":
        return errors.InvalidRequest(text, param="response_format")
    return errors.LocalError(text, code=code if code.startswith("local_") else None)


def _without_tools(name: str, req: ChatRequest) -> None:
    """A model without tool support answers a request with tools in text, the tools left out (an agent's
    question still gets an answer); a ``tool_choice`` that demands a call cannot be met, so it is refused
    with the way out."""
    if req.tool_choice == "required" or isinstance(req.tool_choice, dict):
        raise errors.UnsupportedByModel(
            f"local/{name} cannot call tools, and tool_choice requires a call: set supports_tools = true in "
            "its [[local]] entry if its chat template handles tools, or use a cloud model",
            code="tools_not_supported",
            param="tool_choice",
        )
    log.info(
        "local/%s has no tool support: answering without the request's %d tools", name, len(req.tools or [])
    )


class LocalEngine:
    """Local GGUF models behind one async API (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        paths: Paths,
        *,
        memory: MemoryProbe | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self._memory: MemoryProbe = memory or SystemMemory()
        self._clock = clock
        self._registry = ModelRegistry(settings, paths)
        self._models: dict[str, LocalModel] = {}
        self._scanned = False
        self._slots: dict[str, _Slot] = {}
        self._state = EngineState(paths.engine_state_file)
        self._reaper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Scan the models (off the event loop: a first run assembles the starter files) and start the
        keep-alive reaper."""
        await asyncio.to_thread(self.refresh)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="edgeroute-engine-reaper")

    async def close(self) -> None:
        """Stop every worker (asked first, killed after a grace period)."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        handles: list[WorkerHandle] = []
        for slot in self._slots.values():
            for handle in (slot.handle, slot.tokenizer):
                if handle is not None:
                    handles.append(handle)
            slot.handle = slot.tokenizer = None
            slot.estimate = slot.mapped = 0
        await asyncio.gather(*(h.stop() for h in handles), *self._background, return_exceptions=True)

    # ---- registry -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-scan config, models folder and starters (a freshly pulled model appears without a restart)."""
        self._models = self._registry.scan()
        self._scanned = True

    def _ensure_scanned(self) -> None:
        if not self._scanned:
            self.refresh()

    def catalog(self) -> dict[str, LocalModel]:
        """The servable models by name as scanned, without their ``loaded`` state: what routing reads on
        every request, so it copies no model (:meth:`models` does, for status and ``/v1/models``)."""
        self._ensure_scanned()
        return dict(self._models)

    def models(self) -> list[LocalModel]:
        self._ensure_scanned()
        return [
            dataclasses.replace(m, loaded=self._slots[m.name].loaded if m.name in self._slots else False)
            for m in sorted(self._models.values(), key=lambda m: m.name)
        ]

    def get(self, name: str) -> LocalModel:
        """A model by name (``local/`` prefix allowed); raises :class:`errors.ModelNotFound`."""
        self._ensure_scanned()
        bare = name.removeprefix("local/")
        model = self._models.get(bare)
        if model is None:
            problem = self._registry.problems.get(bare)
            known = ", ".join(f"local/{n}" for n in sorted(self._models)) or "none"
            raise errors.ModelNotFound(problem or f"local/{bare} is not a local model (known: {known})")
        return model

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = _Slot(name)
        return slot

    def _keep_alive(self, name: str) -> float:
        model = self._models.get(name)
        if model is not None and model.keep_alive is not None:
            return model.keep_alive
        return self.settings.engine.keep_alive

    # ---- generation ---------------------------------------------------------------------------------

    async def stream_chat(
        self, name: str, req: ChatRequest, *, want_stats: bool = False
    ) -> AsyncIterator[StreamEvent]:
        """TextDelta* (with :class:`TokenStats` on every generated token when ``want_stats``; then a delta
        may carry empty text), Usage, Finish. Errors are raised before the first event where possible."""
        model = self.get(name)
        if req.has_images():
            raise errors.UnsupportedByModel(
                f"local/{model.name} cannot read images", code="images_not_supported"
            )
        if req.tools and not model.supports_tools:
            _without_tools(model.name, req)
        job = GenerateJob(
            kind="chat",
            messages=[_message_dict(m) for m in req.messages],
            tools=[
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in req.tools
            ]
            if req.tools and model.supports_tools
            else None,
            max_tokens=req.max_tokens,
            temperature=DEFAULT_TEMPERATURE if req.temperature is None else req.temperature,
            top_p=DEFAULT_TOP_P if req.top_p is None else req.top_p,
            stop=list(req.stop),
            seed=req.seed,
            stop_loops=self.settings.engine.stop_loops,
            want_stats=want_stats,
            json_schema=json_schema_text(req.extra.get("response_format")),
            logprobs=req.logprobs,
            sampling=sampling_options(req.extra),
            logit_bias=logit_bias_of(req.extra),
        )
        events = self._generate(model, job)
        if job.tools is not None:  # the model answers calls as text in its markup; clients want tool_calls
            events = extract_tool_calls(events, [t.name for t in req.tools or []])
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                yield event

    async def stream_completion(self, name: str, req: CompletionRequest) -> AsyncIterator[StreamEvent]:
        """A raw-prompt completion (special tokens in the prompt are parsed); fill-in-the-middle when
        ``req.suffix`` is set, built from the model's own FIM tokens."""
        model = self.get(name)
        if req.suffix is not None and not model.supports_fim:
            raise errors.UnsupportedByModel(
                f"local/{model.name} has no fill-in-the-middle tokens; use a code model",
                code="fim_not_supported",
            )
        job = GenerateJob(
            kind="completion",
            prompt=req.prompt,
            fim_suffix=req.suffix,
            max_tokens=req.max_tokens,
            temperature=DEFAULT_TEMPERATURE if req.temperature is None else req.temperature,
            top_p=DEFAULT_TOP_P if req.top_p is None else req.top_p,
            stop=list(req.stop),
            seed=req.seed,
            stop_loops=self.settings.engine.stop_loops,
        )
        async with contextlib.aclosing(self._generate(model, job)) as events:
            async for event in events:
                yield event

    async def _generate(self, model: LocalModel, job: GenerateJob) -> AsyncGenerator[StreamEvent, None]:
        if model.is_embedding:
            raise errors.UnsupportedByModel(
                f"local/{model.name} is an embedding model; it cannot generate text",
                code="generation_not_supported",
            )
        slot = self._slot(model.name)
        async with self._admitted(slot, model):
            for attempt in range(2):
                handle = await self._ensure_loaded(model, slot)
                handle.requests_started += 1
                first_request = handle.requests_started == 1
                rid, queue = handle.open("generate", job)
                accepted = emitted = finished = False
                try:
                    while True:
                        message = await queue.get()
                        kind = message[0]
                        if kind == "token":
                            emitted = True
                            stats = message[3]
                            yield TextDelta(
                                message[2],
                                TokenStats(*stats) if stats is not None else None,
                                logprobs=[message[4]] if len(message) > 4 else None,
                            )
                        elif kind == "done":
                            finished = True
                            done: Finished = message[2]
                            self._record(slot, done)
                            if done.reason == "loop":
                                log.info(
                                    "local/%s repeated itself; its answer was ended after %d tokens",
                                    model.name,
                                    done.completion_tokens,
                                )
                            yield Usage(
                                prompt_tokens=done.prompt_tokens,
                                completion_tokens=done.completion_tokens,
                                cached_tokens=done.cached_tokens,
                                estimated=False,
                            )
                            yield Finish("length" if done.reason == "length" else "stop", done.stop_sequence)
                            return
                        elif kind == "accepted":
                            accepted = True
                        elif kind == "error":
                            finished = True
                            raise _worker_error(message[2], message[3], model.name)
                        else:  # crashed
                            finished = True
                            self._forget_worker(slot, handle)
                            if attempt == 0 and not accepted:
                                self._log_retry(model, handle, "before it took a request")
                                break
                            if (
                                attempt == 0
                                and not emitted
                                and first_request
                                and self._learn_crash(model, handle)
                            ):
                                break
                            raise errors.LocalModelCrashed(
                                f"local/{model.name} crashed while generating ({describe_exit(handle.returncode)}); "
                                "the next request starts a fresh worker"
                            )
                finally:
                    handle.close_stream(rid, cancel=not finished)

    def _record(self, slot: _Slot, done: Finished) -> None:
        slot.requests_served += 1
        if (tps := done.tokens_per_second) is not None:
            slot.last_tokens_per_s = tps
        log.debug(
            "local/%s: %d prompt (%d cached) + %d completion tokens, %.0f ms to first token, %s tok/s",
            slot.name,
            done.prompt_tokens,
            done.cached_tokens,
            done.completion_tokens,
            done.prompt_seconds * 1000,
            f"{tps:.1f}" if tps else "-",
        )

    @contextlib.asynccontextmanager
    async def _admitted(self, slot: _Slot, model: LocalModel) -> AsyncIterator[None]:
        """The model's FIFO slot: wait behind at most ``queue_depth`` requests, else ``local_busy`` at once."""
        depth = self.settings.engine.queue_depth
        if slot.lock.locked() and slot.waiting >= depth:
            retry_after = max(1.0, round(slot.avg_seconds * (slot.waiting + 1), 1))
            raise errors.LocalBusy(
                f"local/{model.name} is busy ({slot.waiting} requests waiting)", retry_after=retry_after
            )
        slot.waiting += 1
        try:
            await slot.lock.acquire()
        finally:
            slot.waiting -= 1
        started = self._clock()
        try:
            yield
        finally:
            slot.lock.release()
            now = self._clock()
            slot.avg_seconds = 0.7 * slot.avg_seconds + 0.3 * max(0.0, now - started)
            slot.last_used = now
            self._after_request(slot)

    def _after_request(self, slot: _Slot) -> None:
        if self._keep_alive(slot.name) == 0 and not slot.busy:
            self._spawn_background(self._unload_if_idle(slot, "keep_alive = 0"))

    def _spawn_background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- embeddings and tokens ----------------------------------------------------------------------

    async def embed(self, name: str, inputs: list[str]) -> EmbedResult:
        """L2-normalised vectors from an embedding model, batched in the worker."""
        model = self.get(name)
        if not model.is_embedding:
            raise errors.UnsupportedByModel(
                f"local/{model.name} is not an embedding model", code="embeddings_not_supported"
            )
        if not inputs:
            return EmbedResult(vectors=[], prompt_tokens=0)
        slot = self._slot(model.name)
        async with self._admitted(slot, model):
            for attempt in range(2):
                handle = await self._ensure_loaded(model, slot)
                handle.requests_started += 1
                message = await handle.call("embed", list(inputs))
                if message[0] == "result":
                    vectors, n_tokens = message[2]
                    slot.requests_served += 1
                    return EmbedResult(vectors=vectors, prompt_tokens=int(n_tokens))
                if message[0] == "error":
                    raise _worker_error(message[2], message[3], model.name)
                self._forget_worker(slot, handle)
                # An embedding has no partial answer to lose: a crash before it runs the batch once more.
                if attempt == 0 and not (handle.requests_started == 1 and self._learn_crash(model, handle)):
                    self._log_retry(model, handle, "before it answered a request")
            raise errors.LocalModelCrashed(
                f"local/{model.name} crashed while embedding; the next request starts a fresh worker"
            )

    async def count_tokens(self, name: str, text: str) -> int:
        """Exact token count for context checks: the loaded worker answers between tokens; a model that
        is not loaded answers from a small vocabulary-only worker instead of loading its weights.
        Tokenizing has no side effects, so a worker found dead is dropped and the count asked once more."""
        model = self.get(name)
        slot = self._slot(model.name)
        for attempt in range(2):
            handle = (
                slot.handle
                if slot.handle is not None and slot.handle.alive
                else await self._tokenizer(model, slot)
            )
            message = await handle.call("tokenize", text, False)
            if message[0] == "result":
                return int(message[2])
            if message[0] == "error":
                raise _worker_error(message[2], message[3], model.name)
            self._forget_worker(slot, handle)
            if slot.tokenizer is handle:
                slot.tokenizer = None
            if attempt == 0:
                self._log_retry(model, handle, "before it counted tokens")
        raise errors.LocalModelCrashed(
            f"local/{model.name}: the tokenizer worker {describe_exit(handle.returncode)}"
        )

    async def _tokenizer(self, model: LocalModel, slot: _Slot) -> WorkerHandle:
        async with slot.load_lock:
            if slot.loaded:
                assert slot.handle is not None
                return slot.handle
            slot.tokenizer_used = self._clock()
            if slot.tokenizer is None or not slot.tokenizer.alive:
                spec = self._spec(model, use_extra_bufts=False, vocab_only=True)
                try:
                    slot.tokenizer = await WorkerHandle.start(spec)
                except (WorkerDied, WorkerLoadFailed) as exc:
                    raise errors.LocalError(
                        f"local/{model.name}: cannot read its vocabulary ({exc})"
                    ) from None
            return slot.tokenizer

    # ---- loading and unloading ----------------------------------------------------------------------

    async def load(self, name: str) -> None:
        model = self.get(name)
        slot = self._slot(model.name)
        await self._ensure_loaded(model, slot)
        slot.last_used = self._clock()

    async def unload(self, name: str) -> None:
        """Unload after the running request (if any) finishes."""
        slot = self._slots.get(name.removeprefix("local/"))
        if slot is None:
            return
        async with slot.lock:
            await self._unload(slot, "requested")

    async def _ensure_loaded(self, model: LocalModel, slot: _Slot) -> WorkerHandle:
        async with slot.load_lock:
            if slot.handle is not None and slot.handle.alive:
                return slot.handle
            slot.handle = None
            await self._make_room(model, slot)
            # Reserved while loading, so a concurrent load of another model counts this one.
            slot.estimate, slot.mapped = model.memory_estimate(), model.info.file_size
            try:
                handle = await self._spawn(model)
            except BaseException:
                slot.estimate = slot.mapped = 0
                raise
            slot.handle = handle
            slot.last_used = self._clock()
            if slot.tokenizer is not None:
                tokenizer, slot.tokenizer = slot.tokenizer, None
                self._spawn_background(tokenizer.stop())
            return handle

    def _spec(self, model: LocalModel, *, use_extra_bufts: bool, vocab_only: bool = False) -> WorkerSpec:
        info = model.info
        return WorkerSpec(
            name=model.name,
            model_path=str(model.path),
            n_ctx=model.n_ctx,
            n_threads=self._threads(),
            n_gpu_layers=self.settings.engine.n_gpu_layers,
            use_extra_bufts=use_extra_bufts,
            embedding=model.is_embedding,
            vocab_only=vocab_only,
            chat_format=model.chat_format,
            warmup=not vocab_only,
            architecture=model.info.architecture,
            chat_template=model.info.chat_template,
            fim_ids=(info.fim_prefix_id, info.fim_suffix_id, info.fim_middle_id)
            if info.supports_fim
            else None,  # type: ignore[arg-type]
        )

    def _threads(self) -> int:
        if self.settings.engine.threads:
            return self.settings.engine.threads
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1

    async def _spawn(self, model: LocalModel) -> WorkerHandle:
        """Start a worker. With ``use_extra_bufts`` unset (auto), a model that dies in its warm-up decode is
        retried once without llama.cpp's extra buffer types, and the outcome is remembered."""
        configured = self.settings.engine.use_extra_bufts
        key = model_key(model.path, model.info.file_size)
        learned = self._state.extra_bufts(key)
        use = configured if configured is not None else (learned if learned is not None else True)
        started = time.perf_counter()
        try:
            handle = await WorkerHandle.start(self._spec(model, use_extra_bufts=use))
        except WorkerLoadFailed as exc:
            raise errors.LocalError(
                f"local/{model.name} failed to load: {exc}", code="local_load_failed"
            ) from None
        except WorkerDied as exc:
            if not (configured is None and use):
                raise errors.LocalModelCrashed(f"local/{model.name} crashed while loading: {exc}") from None
            log.warning(
                "local/%s crashed in its first decode with llama.cpp's extra CPU buffer types (%s); "
                "retrying with use_extra_bufts = false and remembering that in %s",
                model.name,
                describe_exit(exc.returncode),
                self.paths.engine_state_file,
            )
            self._state.set_extra_bufts(
                key, False, f"worker {describe_exit(exc.returncode)} in its first decode"
            )
            use = False
            try:
                handle = await WorkerHandle.start(self._spec(model, use_extra_bufts=False))
            except (WorkerDied, WorkerLoadFailed) as again:
                raise errors.LocalModelCrashed(
                    f"local/{model.name} crashed while loading, also without extra buffer types: {again}"
                ) from None
        if configured is None and use and learned is None:
            self._state.set_extra_bufts(key, True, "first decode succeeded")
        info = handle.info
        log.info(
            "local/%s loaded in %.2f s (pid %d, n_ctx %d, %s, template %s, extra_bufts %s)",
            model.name,
            time.perf_counter() - started,
            handle.pid,
            info.n_ctx if info else model.n_ctx,
            "gpu offload" if info and info.gpu_offload else "cpu",
            info.chat_format if info else "-",
            handle.spec.use_extra_bufts,
        )
        return handle

    def _log_retry(self, model: LocalModel, handle: WorkerHandle, when: str) -> None:
        """A request whose worker died before taking it runs once more, on a fresh worker. Mostly that
        worker was dead already: killed while idle, and the request sent before the engine read the end of
        its socket (the send fails, or the socket closes with the request unread). A generation the worker
        had accepted fails instead: it may be what crashed the worker, and a stream cannot start over."""
        log.warning(
            "local/%s worker %s %s; running the request on a fresh worker",
            model.name,
            describe_exit(handle.returncode),
            when,
        )

    def _learn_crash(self, model: LocalModel, handle: WorkerHandle) -> bool:
        """A worker that died in its very first request with extra buffer types on (auto mode): remember to
        run it without them (the caller retries once)."""
        if self.settings.engine.use_extra_bufts is not None or not handle.spec.use_extra_bufts:
            return False
        log.warning(
            "local/%s crashed in its first request with llama.cpp's extra CPU buffer types (%s); "
            "retrying with use_extra_bufts = false and remembering that in %s",
            model.name,
            describe_exit(handle.returncode),
            self.paths.engine_state_file,
        )
        key = model_key(model.path, model.info.file_size)
        self._state.set_extra_bufts(
            key, False, f"worker {describe_exit(handle.returncode)} in its first request"
        )
        return True

    def _forget_worker(self, slot: _Slot, handle: WorkerHandle) -> None:
        if slot.handle is handle:
            slot.handle = None
            slot.estimate = slot.mapped = 0

    async def _make_room(self, model: LocalModel, slot: _Slot) -> None:
        """Evict idle models, least recently used first, until the new one fits the model cap and memory."""
        need = model.memory_estimate() + int(self.settings.engine.memory_headroom_mb * 1024 * 1024)
        while True:
            others = [s for s in self._slots.values() if s is not slot and (s.loaded or s.estimate)]
            reserved = sum(s.estimate for s in others)
            mapped = sum(s.mapped for s in others)
            available = self._memory.available(reserved, mapped)
            if len(others) < self.settings.engine.max_loaded and need <= available:
                return
            idle = [s for s in others if s.loaded and not s.busy]
            if not idle:
                if len(others) >= self.settings.engine.max_loaded:
                    raise errors.LocalBusy(
                        f"all {len(others)} loaded local models are busy (engine.max_loaded)", retry_after=1.0
                    )
                raise errors.InsufficientMemory(
                    f"local/{model.name} needs about {need / 2**20:.0f} MiB; "
                    f"{available / 2**20:.0f} MiB is available and no idle model can be unloaded"
                )
            victim = min(idle, key=lambda s: s.last_used)
            await self._unload(victim, f"least recently used; making room for local/{model.name}")

    async def _unload(self, slot: _Slot, reason: str) -> None:
        handle, slot.handle = slot.handle, None
        slot.estimate = slot.mapped = 0
        if handle is not None:
            log.info("unloading local/%s (%s)", slot.name, reason)
            await handle.stop()

    async def _unload_if_idle(self, slot: _Slot, reason: str) -> None:
        if slot.loaded and not slot.busy:
            await self._unload(slot, reason)

    # ---- keep-alive ---------------------------------------------------------------------------------

    async def reap_idle(self) -> list[str]:
        """Unload every model idle for longer than its keep-alive; returns their names."""
        now = self._clock()
        unloaded: list[str] = []
        for slot in list(self._slots.values()):
            keep = self._keep_alive(slot.name)
            if slot.loaded and not slot.busy and keep >= 0 and now - slot.last_used >= keep:
                await self._unload(slot, f"idle for {now - slot.last_used:.0f} s")
                unloaded.append(slot.name)
            tokenizer = slot.tokenizer
            tokenizer_keep = max(keep, TOKENIZER_MIN_KEEP_ALIVE)
            if tokenizer is not None and keep >= 0 and now - slot.tokenizer_used >= tokenizer_keep:
                slot.tokenizer = None
                await tokenizer.stop()
        return unloaded

    def _next_reap_delay(self) -> float:
        now = self._clock()
        delays = [
            keep - (now - s.last_used)
            for s in self._slots.values()
            if s.loaded and (keep := self._keep_alive(s.name)) >= 0
        ]
        return min(REAP_MAX_INTERVAL, max(0.05, min(delays, default=REAP_MAX_INTERVAL)))

    async def _reap_forever(self) -> None:
        # A plain sleep, not wait_for(event): on Python 3.11 wait_for can swallow a cancellation that lands
        # together with the event, and close() would then wait forever.
        while True:
            try:
                await self.reap_idle()
            except Exception:
                log.exception("keep-alive check failed")
            await asyncio.sleep(self._next_reap_delay())

    # ---- status -------------------------------------------------------------------------------------

    def queue_depth(self, name: str) -> int:
        """Requests admitted for a model and not finished: the running one plus those waiting."""
        slot = self._slots.get(name.removeprefix("local/"))
        if slot is None:
            return 0
        return slot.waiting + (1 if slot.lock.locked() else 0)

    def status(self) -> EngineStatus:
        now = self._clock()
        wall = time.time()
        models: list[ModelStatus] = []
        for slot in self._slots.values():
            handle = slot.handle
            if handle is None or not handle.alive:
                continue
            keep = self._keep_alive(slot.name)
            info = handle.info
            models.append(
                ModelStatus(
                    name=slot.name,
                    pid=handle.pid,
                    rss_bytes=handle.rss(),
                    estimated_bytes=slot.estimate,
                    active=1 if slot.lock.locked() else 0,
                    queued=slot.waiting,
                    keep_alive_left=None if keep < 0 else max(0.0, keep - (now - slot.last_used)),
                    requests_served=slot.requests_served,
                    last_tokens_per_s=slot.last_tokens_per_s,
                    loaded_for=max(0.0, wall - handle.started_at),
                    load_seconds=info.load_seconds if info else 0.0,
                    use_extra_bufts=handle.spec.use_extra_bufts,
                    n_ctx=info.n_ctx if info else handle.spec.n_ctx,
                    chat_format=info.chat_format if info else "",
                    gpu_offload=bool(info and info.gpu_offload),
                )
            )
        loaded = [s for s in self._slots.values() if s.loaded]
        free = self._memory.available(sum(s.estimate for s in loaded), sum(s.mapped for s in loaded))
        return EngineStatus(models=models, free_memory_bytes=free, max_loaded=self.settings.engine.max_loaded)
