"""Choosing the runbook: the encodings in ``asp/`` solved over a session's facts.

This is the only module that imports clingo. Facts go in as plain :class:`Fact` values and are
added to clingo as symbols through its backend (never as program text), and answers come back
as plain dataclasses: no clingo symbol leaves this module.

The fact schema and the encodings are described in ``asp/README.md``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import clingo
import clingo.ast

from pysynth.resources import as_file, asp_root

# The objectives objectives.lp knows, each optimized only when an objectives file gives it a level.
OBJECTIVES = (
    "unhandled_failures", "unwaited_polls", "listed_positions", "uncopied_structures", "inputs", "branches", "steps",
    "loops", "input_references", "later_sources", "stale_literals", "branch_tests", "condition_choice", "derived_literals", "loop_choice", "waiter_choice", "log_order",
)
BINDING_KINDS = ("output", "input", "literal", "secret", "runtime", "item")

_NAME = re.compile(r"_*[a-z][A-Za-z0-9_']*\Z")
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class SolveError(Exception):
    """A policy or objectives file that clingo cannot parse or ground, or no answer in time.
    The message is one line and carries clingo's own words (file, line and column)."""


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Term:
    """A function term inside a fact: ``Term("output", (3,))`` is ``output(3)``,
    ``Term("region")`` the constant ``region``."""

    name: str
    args: tuple = ()


@dataclass(frozen=True)
class Fact:
    """One input fact. ``args`` are ints, strs (clingo strings, escaped by clingo) or Terms."""

    predicate: str
    args: tuple


class _Symbols:
    """Builds clingo symbols from fact arguments, sharing the ones that repeat (ids, texts)."""

    def __init__(self) -> None:
        self.numbers: dict[int, clingo.Symbol] = {}
        self.strings: dict[str, clingo.Symbol] = {}
        self.terms: dict[Term, clingo.Symbol] = {}
        self.names: set[str] = set()

    def name(self, name: object) -> str:
        if name not in self.names:
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError(f"{name!r} is not a clingo name (a lower-case letter, then letters, digits, _ or ')")
            self.names.add(name)
        return name

    def term(self, value: object) -> clingo.Symbol:
        kind = type(value)
        if kind is int:
            symbol = self.numbers.get(value)
            if symbol is None:
                if not _INT_MIN <= value <= _INT_MAX:
                    raise ValueError(f"{value} does not fit in a clingo number (32 bits)")
                symbol = self.numbers[value] = clingo.Number(value)
        elif kind is str:
            symbol = self.strings.get(value)
            if symbol is None:
                if "\0" in value:
                    # clingo's strings end at a NUL character: the rest would be lost without a word.
                    raise ValueError(f"{value!r}: clingo strings cannot hold NUL characters")
                symbol = self.strings[value] = clingo.String(value)
        elif kind is Term:
            symbol = self.terms.get(value)
            if symbol is None:
                symbol = clingo.Function(self.name(value.name), [self.term(arg) for arg in value.args])
                self.terms[value] = symbol
        else:
            raise TypeError(f"fact arguments are int, str or Term, not {kind.__name__}: {value!r}")
        return symbol

    def fact(self, fact: Fact) -> clingo.Symbol:
        return clingo.Function(self.name(fact.predicate), [self.term(arg) for arg in fact.args])


def format_facts(facts: Iterable[Fact]) -> str:
    """The facts as clingo program text, one ``pred(args).`` a line, sorted by predicate and then
    by arguments (in clingo's order) under a ``% pred/arity`` line. The text of every fact is
    clingo's own rendering of the symbol, so strings are quoted and escaped by clingo."""
    symbols = _Symbols()
    ordered = sorted({(fact.predicate, len(fact.args), symbols.fact(fact)) for fact in facts})
    lines: list[str] = []
    group = None
    for predicate, arity, symbol in ordered:
        if (predicate, arity) != group:
            if group is not None:
                lines.append("")
            group = (predicate, arity)
            lines.append(f"% {predicate}/{arity}")
        lines.append(f"{symbol}.")
    return "".join(line + "\n" for line in lines)


def parse_facts(text: str) -> list[Fact]:
    """The facts of program text, as :func:`format_facts` writes it (or a hand-written instance):
    the inverse of format_facts. ValueError if the text is not made of facts only."""
    messages: list[str] = []

    def check(statement) -> None:
        kind = statement.ast_type
        if kind is clingo.ast.ASTType.Program or kind.name == "Comment":  # comments are statements in clingo 5.8
            return
        if (kind is clingo.ast.ASTType.Rule and not statement.body
                and statement.head.ast_type is clingo.ast.ASTType.Literal
                and statement.head.sign == clingo.ast.Sign.NoSign
                and statement.head.atom.ast_type is clingo.ast.ASTType.SymbolicAtom):
            return
        raise ValueError(f"{statement.location.begin.line}:{statement.location.begin.column}: not a fact: {statement}")

    try:
        clingo.ast.parse_string(text, check, logger=lambda code, message: messages.append(message))
        ctl = clingo.Control(logger=lambda code, message: messages.append(message))
        ctl.add("base", [], text)
        ctl.ground([("base", [])])
    except RuntimeError as error:
        raise ValueError("; ".join(_one_line(message) for message in messages) or str(error)) from None
    return [_fact_of(atom.symbol) for atom in ctl.symbolic_atoms]


def _fact_of(symbol: clingo.Symbol) -> Fact:
    if symbol.type is not clingo.SymbolType.Function or not symbol.name or not symbol.positive:
        raise ValueError(f"not a fact of the schema: {symbol}")
    return Fact(symbol.name, tuple(_argument_of(argument) for argument in symbol.arguments))


def _argument_of(symbol: clingo.Symbol) -> int | str | Term:
    if symbol.type is clingo.SymbolType.Number:
        return symbol.number
    if symbol.type is clingo.SymbolType.String:
        return symbol.string
    if symbol.type is clingo.SymbolType.Function and symbol.name and symbol.positive:
        return Term(symbol.name, tuple(_argument_of(argument) for argument in symbol.arguments))
    raise ValueError(f"not a fact argument (int, str or term): {symbol}")


# --------------------------------------------------------------------------- answers


@dataclass
class Binding:
    """Where a slot's value comes from: ``kind`` is one of :data:`BINDING_KINDS`; ``output`` is
    the output id for ``output``, ``runtime`` the runtime value (``account_id``, ``region``,
    ``partition``) for ``runtime``, ``loop`` and ``derivation`` the loop and the way the value
    follows from its element for ``item``."""

    kind: str
    output: int | None = None
    runtime: str | None = None
    loop: int | None = None
    derivation: int | None = None


@dataclass
class Violation:
    """A broken rule or policy: ``kind`` is ``slot``, ``call`` or ``loop`` and ``id`` that slot,
    call or loop candidate."""

    rule: str
    kind: str
    id: int


@dataclass
class Answer:
    steps: list[int]  # calls that are steps (write calls, read steps and waits), by call number
    merged: dict[int, int]  # retry -> the step it is merged into
    bindings: dict[int, Binding]  # slot -> source, for every slot of a step
    inputs: list[int]  # value ids; secret inputs included (their slots are bound to "secret")
    cost: list[int]  # aligned with Outcome.objectives
    violations: list[Violation]
    ranks: dict[int, int] = field(default_factory=dict)  # step -> its rank within its moment
    waits: dict[int, str] = field(default_factory=dict)  # read call -> the waiter it becomes
    read_steps: list[int] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)  # steps retried after the failures the log shows
    # Loop candidates used -> the list each walks: "input", "literal", "gathered", or a list output's id.
    loops: dict[int, int | str] = field(default_factory=dict)
    batched: list[int] = field(default_factory=list)  # used loops that are one call over the whole list
    # Several demonstrations: a later demonstration's step -> the first demonstration's it stands for;
    # a conditional program step -> its Guard; a later demonstration's input value -> the first's.
    matches: dict[int, int] = field(default_factory=dict)
    guards: dict[int, Guard] = field(default_factory=dict)
    input_map: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Guard:
    """A conditional program step's test: ``kind`` "failed" (``args``: the error code) or "equals"
    (the response path and the text) at step ``tested``, or "set" (``args``: the input's value id,
    ``tested`` None); the step is made where the test holds (``holds``) or where it fails."""

    kind: str
    args: tuple
    tested: int | None
    holds: bool


@dataclass
class Outcome:
    satisfiable: bool
    optimal: bool  # the first answer is proven optimal
    answers: list[Answer]  # best first; empty when unsatisfiable
    objectives: list[str]  # objective names in priority order, aligned with Answer.cost
    violations: list[Violation]  # when unsatisfiable: from the relaxed re-solve (fewest violations)
    stats: dict  # atoms, rules, ground_seconds, solve_seconds, models
    warnings: list[str] = field(default_factory=list)  # clingo's notes on user files, one line each


# --------------------------------------------------------------------------- solving


def solve(
    facts: Sequence[Fact],
    *,
    policies: Sequence[Path] = (),
    objectives: Path | None = None,
    models: int = 1,
    time_limit: float | None = None,
) -> Outcome:
    """Solve the encodings over ``facts`` with the given policy files and objectives file
    (``asp/objectives/default.lp`` when None).

    ``models=1`` gives one optimal answer. ``models=N`` gives up to N answers distinct on the
    shown atoms: all optimal ones first, then the next best ones, in order of cost. When no
    answer obeys every rule and policy, the problem is solved again with the violations counted
    instead of forbidden, and the violations of the best such answer are returned.

    ``time_limit`` (seconds) bounds the search, not the grounding: when it runs out, the best
    answers found so far are returned with ``optimal=False``. :class:`SolveError` is raised for a
    policy or objectives file clingo rejects, and when no answer at all was found in time.
    """
    if models < 1:
        raise ValueError("models must be at least 1")
    if not isinstance(facts, Sequence):
        facts = list(facts)  # read twice when the problem is unsatisfiable
    deadline = None if time_limit is None else time.monotonic() + time_limit
    with as_file(asp_root()) as root:
        root = Path(root)
        objectives_file = Path(objectives) if objectives is not None else root / "objectives" / "default.lp"
        policy_files = [Path(path) for path in policies]

        outcome = _Run(root, "test.lp", objectives_file, policy_files, facts).solve(models, deadline)
        if outcome.satisfiable:
            return outcome

        relaxed = _Run(root, "relax.lp", objectives_file, policy_files, facts)
        explanation = relaxed.solve(1, deadline)
        outcome.violations = explanation.answers[0].violations if explanation.answers else []
        outcome.stats["relaxed"] = {
            key: explanation.stats[key] for key in ("atoms", "rules", "ground_seconds", "solve_seconds", "models")
        }
        outcome.stats["relaxed"]["optimal"] = explanation.optimal
        outcome.stats["relaxed"]["interrupted"] = bool(explanation.stats.get("interrupted"))
        return outcome


class _Run:
    """One clingo control: the encodings, the files and the facts, grounded."""

    def __init__(self, root: Path, check: str, objectives: Path, policies: list[Path], facts: Sequence[Fact]) -> None:
        self.relaxed = check == "relax.lp"
        self.messages: list[tuple[clingo.MessageCode, str]] = []
        self.ctl = clingo.Control(["--opt-mode=opt", "--opt-strategy=usc", "--heuristic=Domain"], logger=self._log, message_limit=1000)
        files = [root / "main.lp", root / check, objectives, *policies]

        # The levels of every #minimize, a policy's own included, so that each cost is labelled.
        self.minimize_levels: set[int] = set()
        self.ctl.register_observer(_MinimizeLevels(self.minimize_levels))
        self.policy_levels = _minimize_levels(policies)

        started = time.perf_counter()
        used = _used_signatures(files)
        loaded = False
        if used is None:
            # A file clingo cannot parse: its own load says why (and raises).
            self._load(files)
            loaded = True
        # Facts first: opening the backend after loading makes clingo check the #show
        # signatures before anything is grounded and warn about every one of them.
        self._add_facts(facts, used)
        if not loaded:
            self._load(files)
        self._guard(lambda: self.ctl.ground([("base", [])]), None)
        self.ground_seconds = time.perf_counter() - started
        self.warnings = [_one_line(message) for code, message in self.messages]
        self.objectives = self._objectives()

    def _load(self, files: list[Path]) -> None:
        for path in files:
            self._guard(lambda: self.ctl.load(str(path)), path)

    def _log(self, code: clingo.MessageCode, message: str) -> None:
        self.messages.append((code, message))

    def _guard(self, action, path: Path | None) -> None:
        """Run a load or ground step; a failure becomes a one-line SolveError in clingo's words."""
        start = len(self.messages)
        try:
            action()
        except RuntimeError as error:
            recent = [message for _, message in self.messages[start:]]
            errors = [message for message in recent if "error" in message] or recent
            text = "; ".join(_one_line(message) for message in errors) or _one_line(str(error))
            if path is not None and not path.exists():
                text = f"{path}: no such file"
            raise SolveError(text) from None

    def _add_facts(self, facts: Sequence[Fact], used: set[tuple[str, int]] | None) -> None:
        """Facts become atoms through the backend. A fact of a predicate no loaded rule mentions
        cannot change any answer (none is shown), so it is left out: most of the time of a large
        session goes into passing facts to clingo."""
        symbols = _Symbols()
        if used is not None:
            keep: dict[tuple[str, int], bool] = {}
            kept = []
            for fact in facts:
                key = (fact.predicate, len(fact.args))
                wanted = keep.get(key)
                if wanted is None:
                    symbols.name(fact.predicate)  # a bad name is an error even where it is not needed
                    wanted = keep[key] = key in used
                if wanted:
                    kept.append(fact)
            facts = kept
        with self.ctl.backend() as backend:
            if _fast_backend_usable(backend):
                _add_facts_fast(backend, symbols, facts)
                return
            add_atom, add_rule = backend.add_atom, backend.add_rule
            for fact in facts:
                add_rule([add_atom(symbols.fact(fact))])

    def _objectives(self) -> list[str]:
        levels: dict[str, int] = {}
        owners: dict[int, str] = {}
        for atom in self.ctl.symbolic_atoms.by_signature("priority", 2):
            name, level = atom.symbol.arguments
            if name.type is not clingo.SymbolType.Function or name.arguments or name.name not in OBJECTIVES:
                raise SolveError(f"priority({name},{level}): unknown objective {name}; the objectives are "
                                 + ", ".join(OBJECTIVES))
            if level.type is not clingo.SymbolType.Number:
                raise SolveError(f"priority({name},{level}): the level must be an integer")
            if name.name in levels:
                raise SolveError(f"objective {name.name} has two priorities, {levels[name.name]} and {level.number}")
            if level.number in owners:
                raise SolveError(f"objectives {owners[level.number]} and {name.name} share priority {level.number}: "
                                 "give each its own level")
            levels[name.name] = level.number
            owners[level.number] = name.name
        # One cost per level that has a #minimize, highest first (the relaxed program's top level
        # counts violations, and is not an objective). A level no objective owns is a policy's own,
        # and one an objective shares with a policy counts both.
        present = sorted(self.minimize_levels, reverse=True)[1 if self.relaxed else 0:]
        return [
            owners[level] + (" and a policy's #minimize" if level in self.policy_levels else "")
            if level in owners else f"policy level {level}"
            for level in present
        ]

    def solve(self, models: int, deadline: float | None) -> Outcome:
        config = self.ctl.configuration.solve
        found: list[tuple[list[clingo.Symbol], list[int]]] = []
        optimal = False
        interrupted = False
        solve_seconds = 0.0
        count = 0
        if models > 1:
            config.project = "show"
            config.opt_mode = "optN"
        optimizing = bool(self.objectives) or self.relaxed
        first = True
        while len(found) < models:
            config.models = str(models - len(found)) if models > 1 else "0"
            latest: list = []
            proven: list = []

            def on_model(model: clingo.Model) -> None:
                nonlocal count
                count += 1
                entry = (model.symbols(shown=True), list(model.cost))
                # Without objectives every answer is optimal, and clingo proves nothing.
                if models > 1 and (model.optimality_proven or not optimizing):
                    proven.append(entry)
                else:
                    latest[:] = [entry]

            started = time.perf_counter()
            with self.ctl.solve(on_model=on_model, async_=True) as handle:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not handle.wait(remaining):
                    handle.cancel()
                result = handle.get()
            solve_seconds += time.perf_counter() - started
            interrupted = bool(result.interrupted)
            if models == 1:
                new = latest
            else:
                # Optimal answers of this round; when interrupted, the best unproven one too.
                new = proven or (latest if interrupted else [])
            if first:
                optimal = bool(new) and not interrupted
                first = False
                if not new and not interrupted:
                    break  # unsatisfiable
            found.extend(new)
            if models == 1 or interrupted or not new:
                break
            self._block(entry[0] for entry in new)

        stats = self.ctl.statistics
        outcome = Outcome(
            satisfiable=bool(found),
            optimal=optimal,
            answers=[self._answer(symbols, cost) for symbols, cost in found],
            objectives=list(self.objectives),
            violations=[],
            stats={
                "atoms": int(stats["problem"]["lp"]["atoms"]),
                "rules": int(stats["problem"]["lp"]["rules"]),
                "ground_seconds": self.ground_seconds,
                "solve_seconds": solve_seconds,
                "models": count,
            },
            warnings=self.warnings,
        )
        if interrupted:
            outcome.stats["interrupted"] = True
            if not found and not self.relaxed:  # an unexplained conflict is still a conflict
                raise SolveError("no runbook was found within the time limit")
        return outcome

    def _block(self, answers: Iterable[list[clingo.Symbol]]) -> None:
        """Forbid answers already found. Every true shown atom of an answer is in the body: an
        answer that makes them all true makes the same calls steps and binds every slot the same
        way, so it is the same answer."""
        atoms = self.ctl.symbolic_atoms
        with self.ctl.backend() as backend:
            for symbols in answers:
                backend.add_rule([], [atoms[symbol].literal for symbol in symbols])

    def _answer(self, symbols: list[clingo.Symbol], cost: list[int]) -> Answer:
        steps: list[int] = []
        merged: dict[int, int] = {}
        bindings: dict[int, Binding] = {}
        inputs: list[int] = []
        violations: list[Violation] = []
        ranks: dict[int, int] = {}
        read_steps: list[int] = []
        retries: list[int] = []
        waits: dict[int, str] = {}
        loops: dict[int, int | str] = {}
        batched: list[int] = []
        demos = _DemoAtoms()
        match = _SHOWN.match
        for symbol in symbols:
            # Reading clingo's text of an atom is several times faster than walking the symbol,
            # and a large runbook has a binding for each of its hundred thousand slots.
            text = str(symbol)
            found = match(text)
            if found is None:
                looped = _LOOP_SHOWN.match(text)
                if looped is None:
                    if not demos.read(symbol):
                        _other_atom(symbol, violations, waits)
                    continue
                slot, loop, derivation, used, walker, kind, source, batch = looped.groups()
                if slot is not None:
                    bindings[int(slot)] = Binding("item", loop=int(loop), derivation=int(derivation))
                elif used is not None:
                    loops.setdefault(int(used), "input")
                elif walker is not None:
                    loops[int(walker)] = int(source) if source is not None else kind
                else:
                    batched.append(int(batch))
                continue
            step, value, retry, into, slot, output, runtime, kind, ranked, rank, read, retried = found.groups()
            if step is not None:
                steps.append(int(step))
            elif value is not None:
                inputs.append(int(value))
            elif retry is not None:
                merged[int(retry)] = int(into)
            elif ranked is not None:
                ranks[int(ranked)] = int(rank)
            elif read is not None:
                read_steps.append(int(read))
            elif retried is not None:
                retries.append(int(retried))
            elif output is not None:
                bindings[int(slot)] = Binding("output", output=int(output))
            elif runtime is not None:
                bindings[int(slot)] = Binding("runtime", runtime=runtime)
            else:
                bindings[int(slot)] = Binding(kind)
        if self.relaxed:
            cost = cost[1:]  # the first level counts the violations
        violations.sort(key=lambda item: (item.rule, item.kind, item.id))
        return Answer(sorted(steps), dict(sorted(merged.items())), dict(sorted(bindings.items())), sorted(inputs),
                      cost, violations, dict(sorted(ranks.items())), dict(sorted(waits.items())), sorted(read_steps),
                      sorted(retries), dict(sorted(loops.items())), sorted(batched),
                      demos.matches, demos.guards, demos.input_map)


class _DemoAtoms:
    """The atoms of several demonstrations' answer: match/2, guard/4, input_map/2."""

    def __init__(self) -> None:
        self.matches: dict[int, int] = {}
        self.guards: dict[int, Guard] = {}
        self.input_map: dict[int, int] = {}

    def read(self, symbol: clingo.Symbol) -> bool:
        name, arguments = symbol.name, symbol.arguments
        if name == "match" and len(arguments) == 2:
            self.matches[arguments[0].number] = arguments[1].number
        elif name == "input_map" and len(arguments) == 2 and arguments[0].type is clingo.SymbolType.Number:
            self.input_map[arguments[0].number] = arguments[1].number
        elif name == "guard" and len(arguments) == 4:
            head, test, tested, outcome = arguments
            args = tuple(argument.string if argument.type is clingo.SymbolType.String else argument.number
                         for argument in test.arguments)
            self.guards[head.number] = Guard(test.name, args, tested.number if tested.type is clingo.SymbolType.Number
                                             else None, outcome.name == "holds")
        else:
            return False
        return True


_SHOWN = re.compile(
    r"(?:step\((-?\d+)\)|input\((-?\d+)\)|merged\((-?\d+),(-?\d+)\)"
    r"|bind\((-?\d+),(?:output\((-?\d+)\)|runtime\(([a-z_][A-Za-z0-9_']*)\)|(input|literal|secret))\)"
    r"|rank\((-?\d+),(-?\d+)\)|read_step\((-?\d+)\)|retry\((-?\d+)\))\Z"
)

_LOOP_SHOWN = re.compile(
    r"(?:bind\((-?\d+),item\((-?\d+),(-?\d+)\)\)|use\((-?\d+)\)|over\((-?\d+),(?:(input|literal|gathered)|output\((-?\d+)\))\)"
    r"|batched\((-?\d+)\))\Z"
)


def _other_atom(symbol: clingo.Symbol, violations: list[Violation], waits: dict[int, str]) -> None:
    """A shown atom with a string in it (a wait and its waiter), a violation, or what a user's
    policy chose to show (ignored)."""
    if symbol.type is not clingo.SymbolType.Function or len(symbol.arguments) != 2:
        return
    first, second = symbol.arguments
    if symbol.name == "violation":
        violations.append(_violation(first, second))
    elif (symbol.name == "wait" and first.type is clingo.SymbolType.Number
          and second.type is clingo.SymbolType.String):
        waits[first.number] = second.string


# The same backend calls as Backend.add_atom and Backend.add_rule, made straight to clingo's C API
# through the cffi handle clingo's own wrapper uses: the wrapper allocates and checks around each
# call, which costs three times the call itself, and a large session has a million facts. Used
# only when clingo still has the names it had when this was written; otherwise the public API.
try:
    from clingo._internal import _ffi as _FFI, _lib as _LIB

    _FAST_CALLS = all(hasattr(_LIB, name) for name in (
        "clingo_symbol_create_function", "clingo_backend_add_atom", "clingo_backend_rule", "clingo_error_message"))
except ImportError:  # pragma: no cover - depends on clingo's internals
    _FAST_CALLS = False
FAST_FACTS = True  # tests switch this off to check that both paths agree
_ARGUMENT_TYPES = frozenset((int, str, Term))


def _fast_backend_usable(backend: clingo.backend.Backend) -> bool:
    return FAST_FACTS and _FAST_CALLS and isinstance(getattr(backend, "_rep", None), _FFI.CData)


def _add_facts_fast(backend: clingo.backend.Backend, symbols: _Symbols, facts: Sequence[Fact]) -> None:
    create, add_atom, add_rule = (_LIB.clingo_symbol_create_function, _LIB.clingo_backend_add_atom,
                                  _LIB.clingo_backend_rule)
    rep, null = backend._rep, _FFI.NULL
    symbol, atom = _FFI.new("clingo_symbol_t*"), _FFI.new("clingo_atom_t*")
    capacity = 8
    arguments = _FFI.new("clingo_symbol_t[]", capacity)
    names: dict[str, bytes] = {}
    # Arguments by value: ints, strs and Terms never compare equal to each other, and the type
    # check keeps True or 1.0 from passing for 1.
    reps: dict[object, object] = {}
    term, types = symbols.term, _ARGUMENT_TYPES
    for fact in facts:
        name = names.get(fact.predicate)
        if name is None:
            name = names[fact.predicate] = symbols.name(fact.predicate).encode()
        args = fact.args
        if len(args) > capacity:
            capacity = len(args)
            arguments = _FFI.new("clingo_symbol_t[]", capacity)
        for index, arg in enumerate(args):
            argument = reps.get(arg) if type(arg) in types else None
            if argument is None:
                argument = reps[arg] = term(arg)._rep
            arguments[index] = argument
        if not (create(name, arguments, len(args), True, symbol) and add_atom(rep, symbol, atom)
                and add_rule(rep, False, atom, 1, null, 0)):
            raise RuntimeError(_FFI.string(_LIB.clingo_error_message()).decode())


def _violation(rule: clingo.Symbol, detail: clingo.Symbol) -> Violation:
    if (detail.type is clingo.SymbolType.Function and detail.name in ("slot", "call", "loop")
            and len(detail.arguments) == 1 and detail.arguments[0].type is clingo.SymbolType.Number):
        return Violation(_text(rule), detail.name, detail.arguments[0].number)
    raise SolveError(f"violation({rule},{detail}): the detail of a violation must be slot(X), call(C) or loop(L)")


def _text(symbol: clingo.Symbol) -> str:
    if symbol.type is clingo.SymbolType.String:
        return symbol.string
    if symbol.type is clingo.SymbolType.Function and not symbol.arguments:
        return symbol.name
    return str(symbol)


def _one_line(message: str) -> str:
    return " ".join(message.split())


class _MinimizeLevels(clingo.backend.Observer):
    """Collects the priority levels of the grounded #minimize statements."""

    def __init__(self, levels: set[int]) -> None:
        self.levels = levels

    def minimize(self, priority: int, literals) -> None:
        self.levels.add(priority)


def _minimize_levels(files: list[Path]) -> set[int]:
    """The constant priority levels of the #minimize statements and weak constraints in ``files``."""
    levels: set[int] = set()

    def statement(node) -> None:
        if node.ast_type is clingo.ast.ASTType.Minimize:
            priority = node.priority
            if priority.ast_type is clingo.ast.ASTType.SymbolicTerm and priority.symbol.type is clingo.SymbolType.Number:
                levels.add(priority.symbol.number)

    try:
        clingo.ast.parse_files([str(path) for path in files], statement, logger=lambda code, message: None)
    except RuntimeError:
        pass  # clingo's own load says what is wrong with the file
    return levels


def _used_signatures(files: list[Path]) -> set[tuple[str, int]] | None:
    """Every name/arity that a rule of the files (and what they include) mentions outside
    ``#defined``: an over-approximation of the predicates the program reads. None if the files
    cannot be parsed; the caller then lets clingo's load say why."""
    used: set[tuple[str, int]] = set()

    class Visitor(clingo.ast.Transformer):
        def visit_Function(self, node):  # noqa: N802 - clingo's naming
            used.add((node.name, len(node.arguments)))
            return node.update(**self.visit_children(node))

        def visit_SymbolicTerm(self, node):  # noqa: N802
            symbol = node.symbol
            if symbol.type is clingo.SymbolType.Function:
                used.add((symbol.name, len(symbol.arguments)))
            return node

        def visit_ShowSignature(self, node):  # noqa: N802 - #show p/2 shows facts too
            used.add((node.name, node.arity))
            return node

        def visit_ProjectSignature(self, node):  # noqa: N802
            used.add((node.name, node.arity))
            return node

    visitor = Visitor()

    def statement(node) -> None:
        if node.ast_type is not clingo.ast.ASTType.Defined:
            visitor(node)

    try:
        clingo.ast.parse_files([str(path) for path in files], statement, logger=lambda code, message: None)
    except RuntimeError:
        return None
    return used
