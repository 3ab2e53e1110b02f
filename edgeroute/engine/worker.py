"""The worker process: one loaded GGUF model, driven over a socket by the daemon.

Run as ``python -m edgeroute.engine.worker FD``; FD is the worker's end of a socketpair. Everything that can
crash natively (llama.cpp loading, decoding, repacking weights) happens here, so a segfault ends this
process and the daemon only sees the socket close. Logs (Python's and llama.cpp's own) travel to the daemon
as ``("log", level, text)`` messages; they never contain prompt text.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from edgeroute.engine.chat_prompt import ChatPromptBuilder, ChatTemplateError
from edgeroute.engine.fim import FimTokens, build_fim_prompt
from edgeroute.engine.protocol import HEADER, Finished, GenerateJob, WorkerInfo, WorkerSpec, decode, encode
from edgeroute.engine.stops import StopMatcher

log = logging.getLogger("edgeroute.engine.worker")

FAULT_ENV = "EDGEROUTE_WORKER_FAULT"
"""Test-only fault injection: ``segv-warmup-extra-bufts`` makes the warm-up decode die with SIGSEGV when
llama.cpp's extra buffer types are on (the AMX-repack crash seen on Sapphire Rapids); ``segv-warmup`` always;
``segv-generate`` makes every generation die right after the worker accepted it."""

_NATIVE_LEVELS = {
    3: logging.WARNING,
    4: logging.ERROR,
}  # ggml_log_level WARN, ERROR; INFO (2) and DEBUG (1) stay quiet
# llama.cpp warnings every load of a healthy model prints (the starter Gemma's among them): DEBUG, so the
# daemon log does not cry wolf on each start.
_ROUTINE_WARNINGS = ("was not control-type; this is probably a bug in the model", "using full-size SWA cache")
_WARMUP_TEXT = b"Warm up the matrix kernels with a short batch of tokens."


class Channel:
    """Framed messages over the worker's socket; ``poll`` lets the generation loop notice a cancel between
    tokens without blocking."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending: deque[tuple[Any, ...]] = deque()
        self._send_lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        frame = encode(message)
        with self._send_lock:
            self.sock.sendall(frame)

    def _read_exactly(self, n: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            chunk = self.sock.recv(n - len(chunks))
            if not chunk:
                raise EOFError("daemon closed the channel")
            chunks += chunk
        return bytes(chunks)

    def read(self) -> tuple[Any, ...]:
        (length,) = HEADER.unpack(self._read_exactly(HEADER.size))
        return decode(self._read_exactly(length))

    def recv(self) -> tuple[Any, ...]:
        return self.pending.popleft() if self.pending else self.read()

    def poll(self) -> bool:
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)


class _ForwardHandler(logging.Handler):
    def __init__(self, channel: Channel) -> None:
        super().__init__(logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):
            self.channel.send(("log", record.levelno, record.getMessage()))


@contextlib.contextmanager
def _model_params(use_extra_bufts: bool) -> Iterator[None]:
    """``Llama()`` builds its model params from ``llama_model_default_params()`` and loads at once, with no
    argument for ``use_extra_bufts``; this worker-only patch sets it for the one load inside the block."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def params() -> Any:
        value = original()
        value.use_extra_bufts = use_extra_bufts
        return value

    lib.llama_model_default_params = params
    try:
        yield
    finally:
        lib.llama_model_default_params = original


class _NativeLog:
    """Routes llama.cpp/ggml log lines (warnings and errors only) into Python logging."""

    def __init__(self) -> None:
        import llama_cpp

        self._level = 0
        self._line = ""

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            if level != 5:  # 5 continues the previous line
                self._level = level
            self._line += text.decode("utf-8", errors="replace")
            if self._line.endswith("\n"):
                line, self._line = self._line.strip(), ""
                if line and self._level in _NATIVE_LEVELS:
                    level = _NATIVE_LEVELS[self._level]
                    if level == logging.WARNING and any(w in line for w in _ROUTINE_WARNINGS):
                        level = logging.DEBUG
                    logging.getLogger("edgeroute.engine.llama").log(level, "%s", line)

        self._callback = callback  # keep a reference: ctypes must not free it
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _maybe_fault(spec: WorkerSpec, stage: str) -> None:
    fault = os.environ.get(FAULT_ENV)
    if fault == f"segv-{stage}" or (fault == f"segv-{stage}-extra-bufts" and spec.use_extra_bufts):
        os.kill(os.getpid(), signal.SIGSEGV)


class WorkerRuntime:
    """The loaded model and the request loop."""

    def __init__(self, spec: WorkerSpec, channel: Channel) -> None:
        self.spec = spec
        self.channel = channel
        self.llm: Any = None
        self.shutdown = False

    # ---- load ---------------------------------------------------------------------------------------

    def load(self) -> WorkerInfo:
        import llama_cpp
        from llama_cpp import Llama

        spec = self.spec
        started = time.perf_counter()
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        batch = spec.n_ctx if spec.embedding else min(spec.n_ctx, 512)
        with _model_params(spec.use_extra_bufts):
            self.llm = Llama(
                model_path=spec.model_path,
                n_ctx=spec.n_ctx,
                n_batch=batch,
                n_ubatch=batch,
                n_threads=spec.n_threads,
                n_threads_batch=spec.n_threads,
                n_gpu_layers=spec.n_gpu_layers if gpu else 0,
                embedding=spec.embedding,
                vocab_only=spec.vocab_only,
                verbose=False,
            )
        llm = self.llm
        # llama.cpp pads its context (300 -> 512); llama-cpp-python's token buffer keeps the size it was given.
        # Tokens past the smaller one fail inside llama-cpp-python, so that one is the limit.
        self.n_ctx = min(llm.n_ctx(), len(llm.input_ids))
        self.vocab = llm._model.vocab
        self.n_vocab = llm.n_vocab()
        self.add_bos = bool(llm._model.add_bos_token())
        self.bos = llm.token_bos()
        self.fim = FimTokens(*spec.fim_ids) if spec.fim_ids else None
        self.prompt_builder: ChatPromptBuilder | None = None
        if not spec.embedding:
            token_text = llm._model.token_get_text
            self.prompt_builder = ChatPromptBuilder(
                gguf_template=spec.chat_template,
                override=spec.chat_format,
                architecture=spec.architecture,
                bos_token=token_text(self.bos) if self.bos >= 0 else "",
                eos_token=token_text(llm.token_eos()) if llm.token_eos() >= 0 else "",
            )
        self._piece_buf = ctypes.create_string_buffer(256)
        self._stats: Any = None
        self._grammars: Any = None  # GrammarCache, made on the first response_format request
        if not spec.vocab_only and spec.warmup:
            self._warmup()
        return WorkerInfo(
            n_ctx=self.n_ctx,
            n_vocab=self.n_vocab,
            chat_format=self.prompt_builder.describe if self.prompt_builder else "embedding",
            add_bos=self.add_bos,
            gpu_offload=gpu and spec.n_gpu_layers != 0,
            load_seconds=time.perf_counter() - started,
        )

    def _warmup(self) -> None:
        """Decode a short batch and a single token before reporting ready: a model that crashes in its first
        decode (e.g. with repacked weights) does it here, where the daemon can retry with safe settings
        instead of failing a user's request."""
        _maybe_fault(self.spec, "warmup")
        llm = self.llm
        if self.spec.embedding:
            llm.embed("warm up", normalize=True)
            return
        tokens = llm.tokenize(_WARMUP_TEXT, add_bos=self.add_bos)
        llm.eval(tokens)
        llm.eval(tokens[-1:])
        llm.reset()

    # ---- request loop -------------------------------------------------------------------------------

    def serve(self) -> None:
        while not self.shutdown:
            message = self.channel.recv()
            kind = message[0]
            if kind == "generate":
                self.generate(message[1], message[2])
            elif kind in ("tokenize", "embed"):
                self.answer(message)
            elif kind == "shutdown":
                return

    def answer(self, message: tuple[Any, ...]) -> None:
        kind, rid = message[0], message[1]
        try:
            if kind == "tokenize":
                text, special = message[2], message[3]
                tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=self.add_bos, special=special)
                self.channel.send(("result", rid, len(tokens)))
            else:
                vectors, n_tokens = self.llm.embed(
                    list(message[2]), normalize=True, truncate=True, return_count=True
                )
                self.channel.send(("result", rid, (vectors, n_tokens)))
        except Exception as exc:
            log.warning("%s request failed: %s", kind, type(exc).__name__)
            self.channel.send(
                ("error", rid, "local_error", f"{kind} failed in the model worker ({type(exc).__name__})")
            )

    def _between_tokens(self, rid: str) -> bool:
        """Handle what arrived while generating; True when this generation must stop."""
        stop = False
        while self.channel.poll():
            message = self.channel.read()
            kind = message[0]
            if kind == "cancel":
                stop = stop or message[1] == rid
            elif kind == "shutdown":
                self.shutdown = stop = True
            elif kind == "tokenize":
                self.answer(message)  # cheap and independent of the KV cache: answer at once
            else:
                self.channel.pending.append(message)
        return stop

    # ---- generation ---------------------------------------------------------------------------------

    def _prompt_tokens(self, job: GenerateJob) -> list[int]:
        llm = self.llm
        if job.kind == "chat":
            assert self.prompt_builder is not None
            text = self.prompt_builder.render(job.messages, job.tools)
            tokens: list[int] = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            if self.add_bos and (not tokens or tokens[0] != self.bos):
                tokens.insert(0, self.bos)
            return tokens
        if job.fim_suffix is not None:
            if self.fim is None:
                raise _RequestError("fim_not_supported", "this model has no fill-in-the-middle tokens")
            prefix = llm.tokenize(job.prompt.encode("utf-8"), add_bos=False, special=False)
            suffix = llm.tokenize(job.fim_suffix.encode("utf-8"), add_bos=False, special=False)
            return build_fim_prompt(self.fim, prefix, suffix, self.bos if self.add_bos else None)
        # Plain completions parse special tokens: editors send templated FIM prompts with them inline.
        tokens = llm.tokenize(job.prompt.encode("utf-8"), add_bos=self.add_bos, special=True)
        if self.add_bos and len(tokens) > 1 and tokens[0] == tokens[1] == self.bos:
            tokens.pop(0)
        return tokens

    def _biased(self, bias: dict[int, float]) -> Any:
        """A logits processor adding ``bias`` (logit_bias): llama-cpp-python runs it first in the sampler
        chain, over every token's logit in id order."""
        import llama_cpp
        import numpy as np

        outside = [token for token in bias if token >= self.n_vocab]
        if outside:
            raise _RequestError(
                "invalid_request",
                f"logit_bias: token {outside[0]} is not in this model's {self.n_vocab} tokens",
            )
        ids = np.fromiter(bias, dtype=np.intp, count=len(bias))
        values = np.fromiter(bias.values(), dtype=np.float32, count=len(bias))

        def add(_input_ids: Any, scores: Any) -> Any:
            scores[ids] += values
            return scores

        return llama_cpp.LogitsProcessorList([add])

    def _token_json(self, token: int) -> dict[str, Any]:
        """A token as OpenAI's logprobs entries name it: its text and its bytes."""
        piece = self._piece(token)
        return {"token": piece.decode("utf-8", "replace"), "bytes": list(piece)}

    def _piece(self, token: int) -> bytes:
        import llama_cpp

        n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece_buf, len(self._piece_buf), 0, False)
        if n < 0:
            self._piece_buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece_buf, -n, 0, False)
        return self._piece_buf.raw[:n]

    def _free_sampler(self) -> None:
        """Free the sampler chain ``Llama.generate`` built for this request, now.

        llama-cpp-python's ``LlamaSampler`` sits in a reference cycle (its ``ExitStack`` callback closes over
        the sampler), so a dropped one is freed only by Python's cyclic GC, which rarely runs in this loop.
        Each chain holds an ``n_vocab``-sized candidates buffer (3 MB for Gemma's 262k vocabulary): left to
        the GC, they piled up and fragmented the heap, a steady ~60 KB of RSS per request."""
        sampler, self.llm._sampler = self.llm._sampler, None
        if sampler is not None:
            sampler.close()

    def _constrain(self, schema_text: str) -> None:
        """Make the next ``Llama.generate`` sample under the schema's grammar.

        ``generate`` builds its sampler chain through ``_init_sampler``; this instance-level override wraps
        that chain (no grammar in it) in a :class:`ConstrainedSampler`, so the grammar constrains exactly
        the sampling this worker uses, greedy included. The grammar is parsed (or found in the cache)
        here, before any token, so a schema llama.cpp rejects fails the request cleanly."""
        from edgeroute.engine.grammar import GrammarCache, GrammarError

        if self._grammars is None:
            self._grammars = GrammarCache(self.vocab, self.n_vocab)
        grammars = self._grammars
        try:
            grammars.prototype(schema_text)
        except GrammarError as exc:
            raise _RequestError("invalid_response_format", str(exc)) from None
        build_chain = self.llm._init_sampler

        def init_sampler(**kwargs: Any) -> Any:
            return grammars.sampler(schema_text, build_chain(**kwargs))

        self.llm._init_sampler = init_sampler

    def generate(self, rid: str, job: GenerateJob) -> None:
        # Before this, the daemon may run the request on a fresh worker if this one dies; after, not.
        self.channel.send(("accepted", rid))
        _maybe_fault(self.spec, "generate")
        try:
            self._generate(rid, job)
        except _RequestError as exc:
            self.channel.send(("error", rid, exc.code, exc.message))
        except ChatTemplateError as exc:
            self.channel.send(("error", rid, "invalid_request", str(exc)))
        except Exception as exc:
            log.error("generation failed: %s", type(exc).__name__)
            self.llm.reset()
            self.channel.send(("error", rid, "local_error", f"generation failed ({type(exc).__name__})"))

    def _generate(self, rid: str, job: GenerateJob) -> None:
        import llama_cpp

        from edgeroute.engine.loops import LoopDetector
        from edgeroute.engine.token_stats import LogprobsComputer, TokenStatsComputer

        llm, channel = self.llm, self.channel
        started = time.perf_counter()
        tokens = self._prompt_tokens(job)
        n_ctx = self.n_ctx
        if len(tokens) >= n_ctx:
            raise _RequestError(
                "context_length_exceeded",
                f"the prompt has {len(tokens)} tokens; this model's context is {n_ctx}",
            )
        budget = n_ctx - len(tokens)
        limit = min(job.max_tokens, budget) if job.max_tokens else budget
        cached = 0
        for a, b in zip(llm._input_ids.tolist(), tokens, strict=False):
            if a != b:
                break
            cached += 1
        if job.want_stats and self._stats is None:
            self._stats = TokenStatsComputer(self.n_vocab)
        logprobs = LogprobsComputer(self.n_vocab) if job.logprobs is not None else None
        llm.set_seed(job.seed if job.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED)

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher(job.stop)
        is_eog, vocab, ctx = llama_cpp.llama_vocab_is_eog, self.vocab, llm.ctx
        want_stats = job.want_stats
        reason = "length"
        hit_stop = False
        count = 0
        first_at = started
        constrained = job.json_schema is not None
        loops = LoopDetector() if job.stop_loops else None
        sampling: dict[str, Any] = {"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0, **job.sampling}
        if job.logit_bias:  # checked before the grammar is installed: a bad id must leave nothing behind
            sampling["logits_processor"] = self._biased(job.logit_bias)
        if job.json_schema is not None:
            self._constrain(job.json_schema)
        generator = llm.generate(tokens, top_p=job.top_p, temp=job.temperature, **sampling)
        try:
            for token in generator:
                if count == 0:
                    first_at = time.perf_counter()
                if is_eog(vocab, token):
                    reason = "stop"
                    break
                stats = self._stats(llama_cpp.llama_get_logits_ith(ctx, -1), token) if want_stats else None
                count += 1
                text, hit_stop = stops.feed(decoder.decode(self._piece(token)))
                if logprobs is not None:
                    chosen, top = logprobs(llama_cpp.llama_get_logits_ith(ctx, -1), token, job.logprobs or 0)
                    entry = {
                        **self._token_json(token),
                        "logprob": chosen,
                        "top_logprobs": [{**self._token_json(t), "logprob": lp} for t, lp in top],
                    }
                    channel.send(("token", rid, text, stats, entry))
                elif text or stats is not None:
                    channel.send(("token", rid, text, stats))
                if hit_stop:
                    reason = "stop"
                    break
                if loops is not None and loops.feed(token):
                    reason = "loop"
                    break
                if count >= limit:
                    break
                if self._between_tokens(rid):
                    reason = "cancelled"
                    break
        finally:
            generator.close()
            self._free_sampler()
            if constrained:
                del llm._init_sampler  # back to the class's own sampler chain
        last_at = time.perf_counter()
        if reason != "cancelled" and not hit_stop:
            tail, hit_stop = stops.feed(decoder.decode(b"", final=True))
            if hit_stop:  # the last bytes completed a stop sequence: that, not the token limit, ended it
                reason = "stop"
            else:
                tail += stops.flush()
            if tail:
                channel.send(("token", rid, tail, None))
        finished = Finished(
            reason=reason,  # type: ignore[arg-type]
            prompt_tokens=len(tokens),
            completion_tokens=count,
            cached_tokens=min(cached, len(tokens)),
            prompt_seconds=first_at - started,
            generate_seconds=max(0.0, last_at - first_at),
            stop_sequence=stops.matched if hit_stop else None,
        )
        channel.send(("done", rid, finished))


class _RequestError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m edgeroute.engine.worker FD", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the daemon's terminal is the daemon's to handle
    sock = socket.socket(fileno=int(argv[1]))
    channel = Channel(sock)
    root = logging.getLogger()
    root.handlers[:] = [_ForwardHandler(channel)]
    root.setLevel(logging.INFO)
    try:
        kind, spec = channel.recv()[:2]
        if kind != "init" or not isinstance(spec, WorkerSpec):
            return 2
        _NativeLog()
        runtime = WorkerRuntime(spec, channel)
        try:
            info = runtime.load()
        except Exception as exc:
            channel.send(("load_failed", f"{type(exc).__name__}: {exc}"))
            return 1
        channel.send(("ready", info))
        runtime.serve()
    except (EOFError, ConnectionError):
        return 0  # the daemon went away: nothing left to serve
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
