"""Batch steps in the replay: a step whose request member (``Step.batch``: StopInstances'
``InstanceIds``) takes a whole list in one call, where the log shows one call per element (or per
part of the list). The step stands for those calls together: the lists they sent, one after the
other, must be the step's list; every other member must be what each of them sent."""

from __future__ import annotations

from pysynth.verify.instances import Instance
from pysynth.verify.problems import BATCH_DIFFERS, OMITTED_VALUE, VALUE_DIFFERS, Problem
from pysynth.verify.values import Unknown, record_ref, records_text, show, value_key


def in_member(path: str, member: str) -> bool:
    """Whether a request path is the batch member or inside it (``InstanceIds[2]``)."""
    return path == member or path.startswith((member + "[", member + "."))


def match(replay, instance: Instance, exact: bool) -> bool:
    """Match a batch step's instance to the calls whose lists make up its own, in log order: with
    ``exact``, only when they make up all of it; otherwise the calls that sent any element of it
    (the difference is the step's problem). False when no call fits: the step is then matched as
    any step is, to the one call that differs least."""
    member = instance.step.batch
    wanted = replay.concrete(instance, instance.step.request.get(member))
    if not isinstance(wanted, list) or not wanted:
        return False
    step = instance.step
    candidates = [
        number for number in replay.by_operation.get((step.service, step.api), ())
        if replay.free(instance, number) and _same_otherwise(replay, instance, number)
    ]
    chosen, position = [], 0
    for number in candidates:
        sent = _sent(replay, number, member)
        if sent and sent == wanted[position:position + len(sent)]:
            chosen.append(number)
            position += len(sent)
            if position == len(wanted):
                break
    if position < len(wanted):
        if exact:
            return False
        elements = {value_key(element) for element in wanted}
        chosen = [number for number in candidates
                  if any(value_key(element) in elements for element in _sent(replay, number, member))]
        if not chosen:
            return False
    replay.assign(instance, chosen[0])
    replay.batched[instance.key] = chosen[1:]
    for number in chosen[1:]:
        replay.taken.add(number)
        replay.key_of_call[number] = instance.key
        replay.follow(instance, number)
    return True


def check(replay, instance: Instance) -> None:
    """The step's one list against what its calls sent together, in order."""
    member = instance.step.batch
    wanted = replay.concrete(instance, instance.step.request.get(member))
    if isinstance(wanted, Unknown):
        return  # the findings on the member say why it has no value
    numbers = [replay.matched[instance.key], *replay.batched.get(instance.key, ())]
    sent = [element for number in numbers for element in _sent(replay, number, member)]
    if sent != wanted:
        records = [record_ref(replay.calls[number]) for number in numbers]
        replay.problems.append(Problem(
            BATCH_DIFFERS,
            f"{instance.text} {member}: sends {show(wanted)} in one call, but {records_text(records)} "
            f"sent {show(sent)}",
            step=instance.step.name, record=records[0], path=member, expected=sent, found=wanted,
            iterations=instance.iterations,
        ))


def _sent(replay, number: int, member: str) -> list:
    sent = replay.expected[number].get(member)
    return sent if isinstance(sent, list) else []


def _same_otherwise(replay, instance: Instance, number: int) -> bool:
    """Whether a call sent what the step sends in every member but the batch member."""
    return not any(finding.kind in (VALUE_DIFFERS, OMITTED_VALUE) for finding in replay.findings(instance, number))
