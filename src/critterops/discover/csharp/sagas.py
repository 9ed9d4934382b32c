"""What a saga's handlers do to its state, read from their code: the steps of its lifecycle.

For every handler method of a Wolverine saga (``Handle``, ``Start``, ``Orchestrate``, ... on the class that
derives from ``Saga``) this walks the body, and the methods it calls in the service's own code (a static
decider such as CritterSupply's ``OrderDecider``, a private helper, a predicate property such as
``IsTerminal``), keeping track of which values of the state member the saga may be in on each path:

- a guard on the state member narrows it: ``if (Status is A or B) return;``, ``if (Status != A) return;``,
  ``if (!CanBeCancelled(Status)) return;`` (the predicate is read too), ``switch (Status) { case A: ... }``;
- an assignment of an enum member to the state member is an ``enter`` step (``Status = OrderStatus.Shipped``,
  ``Status = ready ? OrderStatus.Ready : OrderStatus.Waiting``, or the ``Status`` of the record a decider
  returns: ``var decision = Decider.Handle(this, m); if (decision.Status.HasValue) Status = decision.Status.Value``);
- ``MarkCompleted()`` is a ``complete`` step (Wolverine deletes the saga document afterwards), and an
  ``enter`` step is marked ``completes`` when every path after the assignment calls it;
- a message scheduled for later is a ``schedule`` step with its delay: a ``TimeoutMessage`` subtype created
  in the handler (``record OrderTimeout(Guid Id) : TimeoutMessage(1.Minutes())``), ``outgoing.Delay(msg, d)``,
  ``msg.DelayedFor(d)``, ``bus.ScheduleAsync(msg, d)``, ``PublishAsync(msg, new DeliveryOptions { ScheduleDelay
  = d })``; ``Schedule``/``ScheduledAt`` at a point in time give no fixed delay.

Delays are evaluated like constants: ``TimeSpan.FromDays(30)``, ``new TimeSpan(0, 15, 0)``, JasperFx's
``15.Minutes()`` and a ``static readonly TimeSpan`` or ``const`` they name. Nothing here guesses: what cannot
be resolved statically (a condition on anything but the state, a delay read from configuration) is
"unknown" and keeps every state possible.

Upstream (Wolverine ``V6.29.2``, JasperFx/wolverine): the method names ``Start``/``Handle``/``Orchestrate``/
``Consume``/``StartOrHandle`` and ``MarkCompleted()`` (``docs/guide/durability/sagas.md``, "Method Conventions",
"Marking a Saga as Complete"); ``TimeoutMessage(TimeSpan DelayTime)`` which schedules itself with
``ScheduleAsync(this, DelayTime)`` (``src/Wolverine/ISendMyself.cs``); ``DelayedFor``/``ScheduledAt``
(same file), ``OutgoingMessages.Delay``/``Schedule`` (``src/Wolverine/OutgoingMessages.cs``),
``IMessageBus.ScheduleAsync(message, TimeSpan delay)`` (``src/Wolverine/IMessageBus.cs``) and
``DeliveryOptions.ScheduleDelay`` (``src/Wolverine/DeliveryOptions.cs``). JasperFx's ``int.Minutes()``,
``Hours()``, ``Days()``, ``Seconds()``, ``Milliseconds()`` are in JasperFx/jasperfx
``src/JasperFx/Core/TimeSpanExtensions.cs``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tree_sitter import Node

from critterops.discover.csharp.codeindex import CodeIndex, declaration_name, single_expression, type_members
from critterops.discover.csharp.syntax import argument_nodes, arguments, captures, line, method_name, text
from critterops.discover.csharp.syntax import receiver as receiver_of
from critterops.discover.csharp.timespans import TimeSpans
from critterops.discover.csharp.types import HANDLER_METHODS
from critterops.model.system import SagaStep

# Saga handler methods (Wolverine docs, guide/durability/sagas.md, "Method Conventions": every name also with
# an Async suffix); NotFound runs when there is no saga, so it cannot change one.
_NAMES = HANDLER_METHODS | {f"{name}Async" for name in HANDLER_METHODS if not name.endswith("Async")}
_CREATE = frozenset(n for n in _NAMES if n.startswith(("Start", "Starts")) and "Or" not in n)
_HANDLE = frozenset(_NAMES - _CREATE - {"NotFound", "NotFoundAsync"})
_MAX_DEPTH = 4  # calls followed from a handler: handler -> decider -> predicate -> ...

# --- sets of states --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cond:
    """What a condition says about the state: the states in which it may be true, may be false, and those it
    names when true or false (``Status == A`` names A when true). ``origin``: it is about the state the
    handler started in (a decider's answer), not the current one."""

    true: frozenset[str]
    false: frozenset[str]
    named_true: frozenset[str] = frozenset()
    named_false: frozenset[str] = frozenset()
    origin: bool = False

    def negate(self) -> _Cond:
        return _Cond(self.false, self.true, self.named_false, self.named_true, self.origin)


@dataclass(frozen=True, slots=True)
class _Flow:
    """One path through a handler: the states the saga may have been in when the handler started
    (``runs_in``) and those a guard on the path named, the states it may be in now (after assignments), and
    the ``enter`` steps on the path not followed by ``MarkCompleted()`` yet."""

    runs_in: frozenset[str]
    named: frozenset[str]
    now: frozenset[str]
    assigned: bool = False
    live: frozenset[int] = frozenset()

    def union(self, other: _Flow | None) -> _Flow:
        if other is None:
            return self
        # a state is named where the paths meet only if every path that may be in it named it
        named = (self.named & other.named) | (self.named - other.runs_in) | (other.named - self.runs_in)
        return _Flow(
            self.runs_in | other.runs_in,
            named,
            self.now | other.now,
            self.assigned or other.assigned,
            self.live | other.live,
        )


_NEW = _Flow(frozenset(), frozenset(), frozenset())
"""Where a saga is created: it was in no state before."""


def _union(flows: Iterable[_Flow | None]) -> _Flow | None:
    out: _Flow | None = None
    for flow in flows:
        if flow is not None:
            out = flow if out is None else out.union(flow)
    return out


@dataclass(slots=True)
class _Return:
    """What a called method returned on one path, and the path (for ``decision.Status`` after the call)."""

    flow: _Flow
    value: Node | None
    file: str
    values: dict[str, Node] = field(default_factory=dict)  # the method's locals, for `Status = newStatus`


@dataclass(slots=True)
class _Env:
    """Names in scope while walking one method: which identifiers stand for the saga (``this``, a parameter
    typed as the saga), for its state (a parameter of the enum type bound to it), and locals whose value
    is the result of a call that was followed (a decider's decision)."""

    file: str
    type_name: str  # the declaring type, for unqualified calls and constants
    sagas: set[str] = field(default_factory=set)
    states: set[str] = field(default_factory=set)
    results: dict[str, list[_Return]] = field(default_factory=dict)
    values: dict[str, Node] = field(default_factory=dict)  # local -> its initializer
    depth: int = 0


class _Walker:
    """Walks the handlers of one saga; see the module docstring."""

    def __init__(self, index: CodeIndex, saga: str, member: str, enum: str, states: tuple[str, ...]) -> None:
        self.index = index
        self.spans = TimeSpans(index)
        self.saga = saga
        self.member = member
        self.enum = enum
        self.order = {s: i for i, s in enumerate(states)}
        self.all = frozenset(states)
        self.steps: list[SagaStep] = []
        self._handler = ""
        self._ids = itertools.count()
        self._entries: dict[int, tuple[int, frozenset[str]]] = {}  # id -> (index in steps, runs_in)
        self._escaped: set[int] = set()
        self._stack: list[int] = []  # nodes being followed (no recursion)
        self._timeouts: dict[str, tuple[bool, float | None]] = {}

    # -- entry points ------------------------------------------------------------------------------------------

    def handler(self, rel: str, method: Node) -> None:
        name = declaration_name(method)
        params = method.child_by_field_name("parameters")
        types = [p for p in (params.named_children if params is not None else ()) if p.type == "parameter"]
        self._handler = text(types[0].child_by_field_name("type")).rsplit(".", 1)[-1] if types else ""
        creates = name in _CREATE
        env = _Env(rel, self.saga, sagas={"this"})
        start = frozenset() if creates else self.all
        flow = _Flow(start, frozenset(), start)
        body = method.child_by_field_name("body")
        if body is None:
            return
        end = self._body(body, flow, env, None)
        if end is not None:
            self._escaped |= end.live
        self._settle()

    def creations(self) -> None:
        """``new Saga { State = X }`` anywhere in the service (a handler elsewhere starting the saga) and the
        state member's initializer."""
        self._handler = ""
        for rel, decl in self.index.types(self.saga):
            for node in type_members(decl):
                if node.type == "property_declaration" and declaration_name(node) == self.member:
                    value = node.child_by_field_name("value")
                    states = self._constants(value) if value is not None else ()
                    if value is not None and states:  # a saga created without setting it starts here
                        self._escaped.add(self._emit("enter", _NEW, rel, value, states=states))
        for rel in self.index.files_with(f"new {self.saga}".encode()):
            root = self.index.root(rel)
            if root is None:
                continue
            for creation in captures("(object_creation_expression) @c", root, "c"):
                if _short(text(creation.child_by_field_name("type"))) != self.saga:
                    continue
                if self._inside_saga_handler(creation):
                    continue  # walked with its handler
                states = self._initialized(creation, self.member)
                if states:  # created, returned to Wolverine and saved
                    self._escaped.add(self._emit("enter", _NEW, rel, creation, states=states))
        self._settle()

    def _inside_saga_handler(self, node: Node) -> bool:
        cur = node.parent
        while cur is not None:
            if cur.type == "method_declaration":
                owner = cur.parent.parent if cur.parent is not None else None
                return (
                    owner is not None
                    and declaration_name(owner) == self.saga
                    and declaration_name(cur) in (_CREATE | _HANDLE)
                )
            cur = cur.parent
        return False

    def _settle(self) -> None:
        """Once a handler is walked: an ``enter`` step completes when no path from it ended the handler
        without ``MarkCompleted()``."""
        for entry, (position, _) in self._entries.items():
            self.steps[position] = replace(self.steps[position], completes=entry not in self._escaped)
        self._entries.clear()
        self._escaped.clear()

    # -- statements --------------------------------------------------------------------------------------------

    def _body(self, body: Node, flow: _Flow, env: _Env, returns: list[_Return] | None) -> _Flow | None:
        """The path that falls off the end of a method body (None when every path returns)."""
        if body.type == "arrow_expression_clause":
            expr = body.named_children[0] if body.named_children else None
            if expr is not None:
                flow = self._expr(expr, flow, env)
                if returns is not None:
                    returns.append(_Return(flow, expr, env.file, env.values))
            return flow
        return self._statement(body, flow, env, returns)

    def _statements(
        self, nodes: Iterable[Node], flow: _Flow | None, env: _Env, returns: list[_Return] | None
    ) -> _Flow | None:
        for node in nodes:
            if flow is None:
                return None
            if node.type in ("break_statement", "continue_statement"):
                return flow
            flow = self._statement(node, flow, env, returns)
        return flow

    def _statement(self, node: Node, flow: _Flow, env: _Env, returns: list[_Return] | None) -> _Flow | None:
        kind = node.type
        if kind == "block":
            return self._statements(node.named_children, flow, env, returns)
        if kind == "if_statement":
            return self._if(node, flow, env, returns)
        if kind == "switch_statement":
            return self._switch(node, flow, env, returns)
        if kind in ("return_statement", "throw_statement"):
            value = node.named_children[0] if node.named_children else None
            if value is not None:
                flow = self._expr(value, flow, env)
            if kind == "throw_statement":  # the handler fails: nothing it assigned is saved
                return None
            if returns is not None:
                returns.append(_Return(flow, value, env.file, env.values))
            if env.depth == 0:  # the handler ends: what it entered and did not complete is saved
                self._escaped |= flow.live
            return None
        if kind == "local_declaration_statement":
            for declarator in captures("(variable_declarator) @v", node, "v"):
                value = declarator.named_children[-1] if len(declarator.named_children) > 1 else None
                if value is not None:
                    flow = self._local(declaration_name(declarator), value, flow, env)
            return flow
        if kind in ("for_statement", "foreach_statement", "while_statement", "do_statement"):
            body = node.child_by_field_name("body")
            inner = self._statement(body, flow, env, returns) if body is not None else flow
            return flow.union(inner)
        if kind == "try_statement":
            outs = [self._statements([c], flow, env, returns) for c in node.named_children if c.type == "block"]
            for clause in node.named_children:
                if clause.type in ("catch_clause", "finally_clause"):
                    outs += [
                        self._statements([b], flow, env, returns) for b in clause.named_children if b.type == "block"
                    ]
            return _union(outs)
        if kind in ("using_statement", "lock_statement", "checked_statement", "unsafe_statement", "fixed_statement"):
            body = node.child_by_field_name("body") or (node.named_children[-1] if node.named_children else None)
            return self._statement(body, flow, env, returns) if body is not None else flow
        if kind in ("local_function_statement", "empty_statement"):
            return flow
        return self._expr(node, flow, env)  # expression, yield, ...

    def _if(self, node: Node, flow: _Flow, env: _Env, returns: list[_Return] | None) -> _Flow | None:
        condition = node.child_by_field_name("condition")
        cond = self._cond(condition, env) if condition is not None else self._unknown()
        then_flow = self._narrow(flow, cond)
        else_flow = self._narrow(flow, cond.negate())
        consequence = node.child_by_field_name("consequence")
        alternative = node.child_by_field_name("alternative")
        out_then = then_flow
        if consequence is not None and then_flow is not None:
            out_then = self._statement(consequence, then_flow, env, returns)
        if alternative is not None and else_flow is not None:
            branch = alternative.named_children[-1] if alternative.type == "else_clause" else alternative
            out_else = self._statement(branch, else_flow, env, returns)
        else:
            out_else = else_flow
        return _union([out_then, out_else])

    def _switch(self, node: Node, flow: _Flow, env: _Env, returns: list[_Return] | None) -> _Flow | None:
        value = node.child_by_field_name("value")
        on_state = value is not None and self._is_state(value, env)
        body = node.child_by_field_name("body")
        sections = [s for s in (body.named_children if body is not None else ()) if s.type == "switch_section"]
        outs: list[_Flow | None] = []
        labelled: set[str] = set()
        has_default = False
        for section in sections:
            labels = [c for c in section.named_children if c.type.endswith("pattern")]
            default = any(c.type == "default" for c in section.children) or not labels
            has_default |= default
            statements = [
                c for c in section.named_children if not c.type.endswith("pattern") and c.type != "when_clause"
            ]
            if on_state and not default:
                cond = self._unknown()
                for i, label in enumerate(labels):
                    one = self._pattern(label)
                    cond = one if i == 0 else _or(cond, one)
                if any(c.type == "when_clause" for c in section.named_children):  # may not match: no default
                    cond = _Cond(cond.true, self.all, cond.named_true, frozenset())
                else:
                    labelled |= cond.true
                section_flow = self._narrow(flow, cond)
            elif on_state:
                section_flow = self._narrow(flow, _Cond(self.all - labelled, frozenset(labelled)))
            else:
                section_flow = flow
            outs.append(None if section_flow is None else self._statements(statements, section_flow, env, returns))
        if not has_default:
            outs.append(self._narrow(flow, _Cond(self.all - labelled, frozenset(labelled))) if on_state else flow)
        return _union(outs)

    # -- expressions -------------------------------------------------------------------------------------------

    def _expr(self, node: Node, flow: _Flow, env: _Env) -> _Flow:
        """Every step in an expression, in source order; the path after it."""
        skip: set[int] = set()
        for sub in _walk(node):
            if sub.id in skip:
                continue
            if sub.type in ("lambda_expression", "anonymous_method_expression"):
                skip.update(n.id for n in _walk(sub))
                continue
            if sub.type == "assignment_expression":
                left = sub.child_by_field_name("left")
                right = sub.child_by_field_name("right")
                in_initializer = sub.parent is not None and sub.parent.type == "initializer_expression"
                if left is not None and right is not None and not in_initializer and self._is_state(left, env):
                    flow = self._assign(right, flow, env, sub)
            elif sub.type == "invocation_expression":
                flow, consumed = self._invocation(sub, flow, env)
                skip.update(consumed)
            elif sub.type == "object_creation_expression":
                type_name = _short(text(sub.child_by_field_name("type")))
                if type_name == self.saga:  # the saga created in this state
                    states = self._initialized(sub, self.member)
                    if states:
                        entry = self._emit("enter", flow, env.file, sub, states=states)
                        flow = replace(flow, live=flow.live | {entry})
                else:
                    is_timeout, delay = self._timeout(type_name)
                    if is_timeout:
                        self._emit("schedule", flow, env.file, sub, message=type_name, delay_s=delay)
        return flow

    def _assign(self, right: Node, flow: _Flow, env: _Env, where: Node) -> _Flow:
        """``Status = <right>``: enum members in it, or the ``Status`` of a followed call's result. On the
        path after it the saga is in those states, and the new ``enter`` steps are open until a
        ``MarkCompleted()``."""
        entered: list[tuple[int, tuple[str, ...]]] = []
        local = _root_identifier(right)
        if local is not None and local in env.results:
            for result in env.results[local]:
                value = _initializer_value(result.value, self.member) if result.value is not None else None
                states = self._constants(value, result.values) if value is not None else ()
                runs_in = flow.runs_in & result.flow.runs_in
                if states and runs_in:
                    named = (flow.named | result.flow.named) & runs_in
                    step_flow = replace(flow, runs_in=runs_in, named=named)
                    entry = self._emit("enter", step_flow, result.file, value or where, states=states)
                    entered.append((entry, states))
        else:
            states = self._constants(right, env.values)
            if states:
                entered.append((self._emit("enter", flow, env.file, where, states=states), states))
        if not entered:
            return flow
        now = frozenset(state for _, states in entered for state in states)
        return replace(flow, now=now, assigned=True, live=flow.live | {entry for entry, _ in entered})

    def _invocation(self, call: Node, flow: _Flow, env: _Env) -> tuple[_Flow, set[int]]:
        """Steps of one call: the path after it, and the ids of the nodes it accounted for (the creation of
        the message it schedules)."""
        name, _ = method_name(call)
        receiver = receiver_of(call)
        args = arguments(call)
        if name == "MarkCompleted" and (receiver is None or text(receiver) in ("this", *env.sagas)):
            self._emit("complete", flow, env.file, call)
            return replace(flow, live=frozenset()), set()  # what was entered on this path is deleted with it
        scheduled: tuple[Node | None, float | None] | None = None
        if name in ("Delay", "ScheduleAsync", "Schedule") and len(args) >= 2:
            scheduled = (args[0], self.spans.seconds(args[1], env.type_name) if name != "Schedule" else None)
        elif name == "DelayedFor" and receiver is not None and args:
            scheduled = (receiver, self.spans.seconds(args[0], env.type_name))
        elif name == "ScheduledAt" and receiver is not None:
            scheduled = (receiver, None)
        elif name in ("PublishAsync", "SendAsync") and len(args) >= 2 and args[1].type == "object_creation_expression":
            delay_node = _initializer_value(args[1], "ScheduleDelay")
            if delay_node is not None:
                scheduled = (args[0], self.spans.seconds(delay_node, env.type_name))
        if scheduled is not None:
            message = self._message_type(scheduled[0], env)
            if not message:
                return flow, set()
            self._emit("schedule", flow, env.file, call, message=message, delay_s=scheduled[1])
            return flow, {n.id for n in _walk(scheduled[0])} if scheduled[0] is not None else set()
        target = self._callee(call, env)
        if target is not None:
            flow = self._follow(target, call, flow, env, None)
        return flow, set()

    def _local(self, name: str, value: Node, flow: _Flow, env: _Env) -> _Flow:
        """``var x = <value>``: a followed call's results are kept for ``x.Status`` later."""
        inner = value.named_children[0] if value.type == "await_expression" and value.named_children else value
        env.values[name] = inner
        if inner.type == "invocation_expression":
            target = self._callee(inner, env)
            if target is not None:
                given = inner.child_by_field_name("arguments")
                if given is not None:
                    flow = self._expr(given, flow, env)
                results: list[_Return] = []
                flow = self._follow(target, inner, flow, env, results)
                env.results[name] = results
                return flow
        return self._expr(value, flow, env)

    def _callee(self, call: Node, env: _Env) -> tuple[str, str, Node] | None:
        """The method a call runs, when it is declared in the service: (file, declaring type, method)."""
        name, _ = method_name(call)
        receiver = receiver_of(call)
        owner = env.type_name if receiver is None or text(receiver) in ("this", *env.sagas) else _short(text(receiver))
        if receiver is not None and text(receiver) in env.sagas:
            owner = self.saga
        count = len(argument_nodes(call))
        for rel, node in self.index.members(owner, name):
            if node.type == "method_declaration" and _arity(node) == count:
                return rel, owner, node
        return None

    def _follow(
        self, target: tuple[str, str, Node], call: Node, flow: _Flow, env: _Env, results: list[_Return] | None
    ) -> _Flow:
        """Walk a called method from this path, its returns into ``results``. The path after the call is every
        way out of the method together (its guards narrow each way, together they are the path again)."""
        rel, owner, method = target
        body = method.child_by_field_name("body")
        if env.depth >= _MAX_DEPTH or method.id in self._stack or body is None:
            return flow
        inner = _Env(rel, owner, depth=env.depth + 1)
        self._bind(method, call, env, inner)
        returns = results if results is not None else []
        self._stack.append(method.id)
        try:
            end = self._body(body, flow, inner, returns)
        finally:
            self._stack.pop()
        return _union([end, *(r.flow for r in returns)]) or flow

    def _bind(self, method: Node, call: Node, outer: _Env, inner: _Env) -> None:
        """Parameters that receive the saga (``this``, a saga alias) or its state, or are typed so."""
        params = method.child_by_field_name("parameters")
        declared = [p for p in (params.named_children if params is not None else ()) if p.type == "parameter"]
        args = _argument_values(call)
        if outer.sagas and (receiver_of(call) is None or text(receiver_of(call)) in ("this", *outer.sagas)):
            inner.sagas.add("this")
        for i, param in enumerate(declared):
            name = text(param.child_by_field_name("name"))
            type_name = _short(text(param.child_by_field_name("type")).rstrip("?"))
            arg = args[i] if i < len(args) else None
            if type_name == self.saga or (arg is not None and text(arg) in ("this", *outer.sagas)):
                inner.sagas.add(name)
            elif type_name == self.enum and (arg is None or self._is_state(arg, outer)):
                inner.states.add(name)

    # -- conditions --------------------------------------------------------------------------------------------

    def _unknown(self) -> _Cond:
        return _Cond(self.all, self.all)

    def _narrow(self, flow: _Flow, cond: _Cond) -> _Flow | None:
        """The path on which ``cond`` holds, or None when it cannot."""
        if cond.origin or not flow.assigned:
            runs_in = flow.runs_in & cond.true if flow.runs_in or cond.origin else flow.runs_in
            if flow.runs_in and not runs_in:
                return None
            named = (flow.named | cond.named_true) & runs_in
            live = frozenset(e for e in flow.live if self._entries[e][1] & runs_in or not self._entries[e][1])
            now = flow.now & cond.true if not flow.assigned else flow.now
            return _Flow(runs_in, named, now, flow.assigned, live)
        now = flow.now & cond.true
        return replace(flow, now=now) if now else None

    def _cond(self, node: Node, env: _Env, depth: int = 0) -> _Cond:
        kind = node.type
        if kind == "parenthesized_expression" and node.named_children:
            return self._cond(node.named_children[0], env, depth)
        if kind == "prefix_unary_expression" and text(node).lstrip().startswith("!") and node.named_children:
            return self._cond(node.named_children[-1], env, depth).negate()
        if kind == "binary_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            operator = text(node.child_by_field_name("operator"))
            if left is None or right is None:
                return self._unknown()
            if operator in ("&&", "||"):
                a, b = self._cond(left, env, depth), self._cond(right, env, depth)
                return _and(a, b) if operator == "&&" else _or(a, b)
            if operator in ("==", "!="):
                for state_side, constant in ((left, right), (right, left)):
                    if self._is_state(state_side, env):
                        states = self._constant(constant)
                        if states is not None:
                            cond = _Cond(frozenset({states}), self.all - {states}, frozenset({states}))
                            return cond if operator == "==" else cond.negate()
                flag = self._flag(left, env)
                if flag is not None and text(right) == "null":
                    return flag if operator == "!=" else flag.negate()
            return self._unknown()
        if kind == "is_pattern_expression":
            expression, pattern = node.child_by_field_name("expression"), node.child_by_field_name("pattern")
            if expression is not None and pattern is not None and self._is_state(expression, env):
                return self._pattern(pattern)
            return self._unknown()
        flag = self._flag(node, env)
        if flag is not None:
            return flag
        if depth < _MAX_DEPTH:  # a predicate: IsTerminal, CanBeCancelled(Status), current.IsDone
            predicate = self._predicate(node, env)
            if predicate is not None:
                return predicate
        return self._unknown()

    def _pattern(self, node: Node) -> _Cond:
        kind = node.type
        if kind == "constant_pattern" and node.named_children:
            state = self._constant(node.named_children[0])
            if state is not None:
                return _Cond(frozenset({state}), self.all - {state}, frozenset({state}))
        elif kind in ("or_pattern", "and_pattern"):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None:
                a, b = self._pattern(left), self._pattern(right)
                return _or(a, b) if kind == "or_pattern" else _and(a, b)
        elif kind == "negated_pattern" and node.named_children:
            return self._pattern(node.named_children[-1]).negate()
        elif kind == "parenthesized_pattern" and node.named_children:
            return self._pattern(node.named_children[0])
        return self._unknown()

    def _flag(self, node: Node, env: _Env) -> _Cond | None:
        """``decision.ShouldComplete``, ``decision.Status.HasValue``: true on the paths of the followed call
        whose returned record sets that member (to anything but ``false``/``null``)."""
        chain = _member_chain(node)
        if len(chain) < 2 or chain[0] not in env.results:
            return None
        member = chain[1]
        if len(chain) > 2 and chain[2:] != ["HasValue"]:
            return None
        true: frozenset[str] = frozenset()
        false: frozenset[str] = frozenset()
        named_true: frozenset[str] = frozenset()
        for result in env.results[chain[0]]:
            value = _initializer_value(result.value, member) if result.value is not None else None
            if value is not None and text(value) not in ("false", "null", "default"):
                true |= result.flow.runs_in
                named_true |= result.flow.named
            else:
                false |= result.flow.runs_in
        return _Cond(true, false, named_true & true, frozenset(), origin=True)

    def _predicate(self, node: Node, env: _Env) -> _Cond | None:
        """A bool property or method of the saga or another type, read inline with its parameter bound."""
        if node.type == "invocation_expression":
            target = self._callee(node, env)
            call: Node | None = node
        elif node.type in ("identifier", "member_access_expression"):
            receiver = node.child_by_field_name("expression") if node.type == "member_access_expression" else None
            name = text(node.child_by_field_name("name")) if receiver is not None else text(node)
            owner = env.type_name if receiver is None else _short(text(receiver))
            if receiver is not None and text(receiver) in ("this", *env.sagas):
                owner = self.saga
            found = [(rel, m) for rel, m in self.index.members(owner, name) if m.type == "property_declaration"]
            target = (found[0][0], owner, found[0][1]) if found else None
            call = None
        else:
            return None
        if target is None or target[2].id in self._stack:
            return None
        rel, owner, member = target
        inner = _Env(rel, owner, depth=env.depth + 1)
        if call is not None:
            self._bind(member, call, env, inner)
        elif owner == self.saga:
            inner.sagas.add("this")
        expression = single_expression(member)
        if expression is None:
            return None
        self._stack.append(member.id)
        try:
            return self._cond(expression, inner, env.depth + 1)
        finally:
            self._stack.pop()

    def _is_state(self, node: Node, env: _Env) -> bool:
        """``Status``, ``this.Status``, ``current.Status`` (a saga alias) or an enum parameter bound to it."""
        if node.type == "parenthesized_expression" and node.named_children:
            return self._is_state(node.named_children[0], env)
        if node.type == "identifier":
            name = text(node)
            return (name == self.member and "this" in env.sagas) or name in env.states
        if node.type == "member_access_expression":
            receiver = node.child_by_field_name("expression")
            return (
                text(node.child_by_field_name("name")) == self.member
                and receiver is not None
                and (text(receiver) in ("this", *env.sagas))
            )
        return False

    # -- values ------------------------------------------------------------------------------------------------

    def _constant(self, node: Node) -> str | None:
        """``OrderStatus.Shipped`` → Shipped (a member of the state's enum)."""
        if node.type == "member_access_expression":
            receiver = node.child_by_field_name("expression")
            member = text(node.child_by_field_name("name"))
            if receiver is not None and _short(text(receiver)) == self.enum and member in self.all:
                return member
        return None

    def _constants(self, node: Node | None, values: dict[str, Node] | None = None) -> tuple[str, ...]:
        """The enum members an expression can evaluate to (both arms of ``?:``, a switch expression's arms,
        a local it names: ``var next = ready ? A : B; ... Status = next``)."""
        found: set[str] = set()
        pending = [node] if node is not None else []
        seen: set[str] = set()
        while pending:
            for sub in _walk(pending.pop()):
                state = self._constant(sub)
                if state is not None:
                    found.add(state)
                elif values and sub.type == "identifier" and text(sub) in values and text(sub) not in seen:
                    seen.add(text(sub))
                    pending.append(values[text(sub)])
        return tuple(sorted(found, key=self.order.__getitem__))

    def _initialized(self, creation: Node, member: str) -> tuple[str, ...]:
        return self._constants(_initializer_value(creation, member))

    def _message_type(self, node: Node | None, env: _Env) -> str:
        if node is None:
            return ""
        if node.type == "object_creation_expression":
            return _short(text(node.child_by_field_name("type")))
        if node.type == "identifier" and text(node) in env.values:  # var timeout = new X(...); Delay(timeout, ...)
            return self._message_type(env.values[text(node)], replace(env, values={}))
        if node.type == "invocation_expression":  # new X(...).WithGroupId(...) and the like
            inner = receiver_of(node)
            return self._message_type(inner, env)
        return ""

    def _timeout(self, type_name: str) -> tuple[bool, float | None]:
        """Whether ``type_name`` derives from Wolverine's ``TimeoutMessage``, and the delay it passes to it."""
        if type_name not in self._timeouts:
            self._timeouts[type_name] = (False, None)
            for _, decl in self.index.types(type_name):
                for base in _base_nodes(decl):
                    if _short(text(base.child_by_field_name("type"))) != "TimeoutMessage":
                        continue
                    given = base.named_children[-1] if base.named_children else None
                    args = _argument_values_of(given) if given is not None and given.type == "argument_list" else []
                    self._timeouts[type_name] = (True, self.spans.seconds(args[0], type_name) if args else None)
        return self._timeouts[type_name]

    # -- steps -------------------------------------------------------------------------------------------------

    def _emit(
        self,
        action: str,
        flow: _Flow,
        rel: str,
        where: Node,
        *,
        states: tuple[str, ...] = (),
        message: str = "",
        delay_s: float | None = None,
    ) -> int:
        """Record a step; its id (an ``enter`` step's, to tell later whether ``MarkCompleted()`` follows it)."""
        self.steps.append(
            SagaStep(
                handler=self._handler,
                action=action,
                runs_in=self._sorted(flow.runs_in),
                named=self._sorted(flow.named & flow.runs_in),
                states=states,
                message=message,
                delay_s=delay_s,
                file=rel,
                line=line(where),
            )
        )
        entry = next(self._ids)
        if action == "enter":
            self._entries[entry] = (len(self.steps) - 1, flow.runs_in)
        return entry

    def _sorted(self, states: frozenset[str]) -> tuple[str, ...]:
        return tuple(sorted(states, key=self.order.__getitem__))


def _and(a: _Cond, b: _Cond) -> _Cond:
    """Both hold: true where both may be, named when true if either names it (both must hold); false where
    either may fail, named when false only if every part that may fail there names it."""
    true, false = a.true & b.true, a.false | b.false
    return _Cond(
        true, false, (a.named_true | b.named_true) & true, _all_name(false, a, b, "false"), a.origin or b.origin
    )


def _or(a: _Cond, b: _Cond) -> _Cond:
    """Either holds: the mirror image of :func:`_and`."""
    true, false = a.true | b.true, a.false & b.false
    return _Cond(
        true, false, _all_name(true, a, b, "true"), (a.named_false | b.named_false) & false, a.origin or b.origin
    )


def _all_name(states: frozenset[str], a: _Cond, b: _Cond, side: str) -> frozenset[str]:
    """The states every part that may come out ``side`` there names (``x || Status == A`` does not name A:
    it may be true through ``x``)."""
    named = {"true": (a.named_true, b.named_true), "false": (a.named_false, b.named_false)}[side]
    sets = {"true": (a.true, b.true), "false": (a.false, b.false)}[side]
    return frozenset(
        s for s in states if all(s in names for names, possible in zip(named, sets, strict=True) if s in possible)
    )


def _walk(node: Node) -> Iterable[Node]:
    """``node`` and its named descendants in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def _short(name: str) -> str:
    return name.split("<", 1)[0].rsplit(".", 1)[-1].strip()


def _member_chain(node: Node) -> list[str]:
    """``decision.Status.HasValue`` (or ``decision.Status!.HasValue``) → the names in it; [] for anything else."""
    names: list[str] = []
    current: Node | None = node
    while current is not None:
        if current.type == "member_access_expression":
            names.append(text(current.child_by_field_name("name")))
            current = current.child_by_field_name("expression")
        elif current.type == "postfix_unary_expression" and current.named_children:
            current = current.named_children[0]
        elif current.type == "identifier":
            return [text(current), *reversed(names)]
        else:
            return []
    return []


def _argument_values(call: Node) -> list[Node]:
    """Every argument's expression, ``this`` included (which :func:`arguments` leaves out: it is no named node)."""
    return [a.named_children[-1] if a.named_children else a for a in argument_nodes(call)]


def _argument_values_of(argument_list: Node) -> list[Node]:
    """The expressions of an ``argument_list`` (a base type's: ``TimeoutMessage(15.Minutes())``)."""
    return [a.named_children[-1] for a in argument_list.named_children if a.type == "argument" and a.named_children]


def _arity(method: Node) -> int:
    params = method.child_by_field_name("parameters")
    return len([p for p in (params.named_children if params is not None else ()) if p.type == "parameter"])


def _root_identifier(node: Node) -> str | None:
    """``decision`` in ``decision.Status.Value``, ``decision.Status!.Value``, ``decision.Status ?? Status``."""
    current: Node | None = node
    while current is not None:
        if current.type == "identifier":
            return text(current)
        if current.type in ("member_access_expression", "postfix_unary_expression", "parenthesized_expression"):
            current = current.child_by_field_name("expression") or (
                current.named_children[0] if current.named_children else None
            )
        elif current.type == "binary_expression" and text(current.child_by_field_name("operator")) == "??":
            current = current.child_by_field_name("left")
        else:
            return None
    return None


def _initializer_value(node: Node | None, member: str) -> Node | None:
    """``X`` in ``new T { member = X }`` or ``current with { member = X }``."""
    if node is None:
        return None
    if node.type in ("object_creation_expression", "with_expression", "implicit_object_creation_expression"):
        for assignment in captures("(assignment_expression) @a", node, "a"):
            left = assignment.child_by_field_name("left")
            if left is not None and text(left) == member and _initializer_owner(assignment) == node:
                return assignment.child_by_field_name("right")
    return None


def _initializer_owner(assignment: Node) -> Node | None:
    cur = assignment.parent
    while cur is not None and cur.type not in (
        "object_creation_expression",
        "with_expression",
        "implicit_object_creation_expression",
    ):
        cur = cur.parent
    return cur


def _base_nodes(decl: Node) -> list[Node]:
    for child in decl.named_children:
        if child.type == "base_list":
            return [c for c in child.named_children if c.type != "argument_list"]
    return []


def saga_steps(
    index: CodeIndex,
    rel: str,
    decl: Node,
    member: str | None,
    enum: str | None,
    states: tuple[str, ...],
) -> tuple[SagaStep, ...]:
    """The steps of the saga declared by ``decl`` (in ``rel``) whose state member ``member`` is typed with the
    enum ``enum`` of members ``states``; () when the state is not such an enum (nothing to read)."""
    if not member or not enum or not states:
        return ()
    walker = _Walker(index, declaration_name(decl), member, enum, states)
    for node in type_members(decl):
        if node.type == "method_declaration" and declaration_name(node) in (_CREATE | _HANDLE):
            walker.handler(rel, node)
    walker.creations()
    return tuple(walker.steps)


__all__ = ["saga_steps"]
